"""A real HTTP server on loopback for tests that fetch: feeds, pages, images, misbehaviour.

Routes map a path (without its query) to a Reply, or to a function of the Request that
returns one. Every request is recorded in `server.requests`, so a test can also prove
what did *not* arrive:

    with LocalServer({"/feed.xml": Reply.file(FIXTURES / "rss2.xml")}) as server:
        fetched = fetch(server.url("/feed.xml"), kind="feed")
        assert server.requests[0].headers["user-agent"].startswith("Sala/")

or, through the `local_server` fixture (import `local_server_fixture` into the test
module, or into a conftest.py, to make it available):

    def test_something(local_server: LocalServer) -> None:
        url = local_server.route("/page", Reply(headers={"Content-Type": "text/html"}, body="<p>"))

A Reply can misbehave on purpose: `delay` stalls before the status line, a callable body
streams chunks (with `chunked=False`, unsized: the body ends when the connection closes),
and `server.wait(seconds)` inside such a body stalls mid-stream. Stalls end early when
the server stops, so a test never waits for its own trap.

The fetcher only talks to loopback when SALA_FETCH_ALLOW_LOOPBACK is on: use pytest-django's
`settings` fixture to turn it on in tests that fetch from here.
"""

import mimetypes
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import pytest


@dataclass(frozen=True)
class Request:
    """A request the server received; header names are lower-case."""

    method: str
    path: str  # with the query string
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Reply:
    """What the server answers on a route.

    `body` is bytes, text (sent as UTF-8), or a function returning an iterable of chunks,
    called afresh for every request. Bytes and text get a Content-Length unless `headers`
    set one; a streamed body is sent as it is when `headers` declare a Content-Length (true
    or not), else chunked, or, with `chunked=False`, unsized, closing the connection at
    its end.
    """

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | str | Callable[[], Iterable[bytes]] = b""
    chunked: bool = True
    delay: float = 0.0  # seconds to stall before the status line

    @classmethod
    def file(
        cls,
        path: Path,
        *,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Self:
        """Serve the bytes of `path`, typed by its extension unless `content_type` is given."""
        guessed = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return cls(headers={"Content-Type": guessed, **(headers or {})}, body=path.read_bytes())

    @classmethod
    def redirect(cls, location: str, *, status: int = 302) -> Self:
        """Redirect to `location`, absolute or relative."""
        return cls(status=status, headers={"Location": location})


type Route = Reply | Callable[[Request], Reply]


class LocalServer:
    """A threaded HTTP/1.1 server on `host` (loopback), on a free port, until stopped.

    It answers GET (other methods get 501) and unknown paths with 404. Pass `tls` (a
    server-side SSLContext) to serve HTTPS instead.
    """

    def __init__(
        self,
        routes: Mapping[str, Route] | None = None,
        *,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[Request] = []
        self.host = host
        self.tls = tls
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "the server is not started"
        return int(self._server.server_address[1])

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        """Return the absolute URL of `path` here, naming the server as `host` if given."""
        name = host or (f"[{self.host}]" if ":" in self.host else self.host)
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{name}:{self.port}{path}"

    def route(self, path: str, reply: Route) -> str:
        """Answer `path` with `reply` from now on; return its URL."""
        self.routes[path] = reply
        return self.url(path)

    def wait(self, seconds: float) -> None:
        """Sleep `seconds` inside a streamed body, or less if the server stops meanwhile."""
        self._stopping.wait(seconds)

    def start(self) -> Self:
        self._server = _Server(self)
        # A short poll, so stop() returns in a blink rather than serve_forever's 0.5 s.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"local-server {self.url()}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _reply_to(self, request: Request) -> Reply | None:
        """Return the Reply for `request`, or None once the server is stopping."""
        self.requests.append(request)
        route = self.routes.get(urlsplit(request.path).path)
        if route is None:
            reply = Reply(404, {"Content-Type": "text/plain"}, b"Not found")
        else:
            reply = route if isinstance(route, Reply) else route(request)
        if reply.delay and self._stopping.wait(reply.delay):
            return None
        return reply


# Named apart from the fixture, so a module importing it (to use it) does not shadow the
# import with its test's parameter (ruff F811).
@pytest.fixture(name="local_server")
def local_server_fixture() -> Iterator[LocalServer]:
    """Yield a started LocalServer on 127.0.0.1 with no routes yet."""
    with LocalServer() as server:
        yield server


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck on a silent client must not hold up stop()

    def __init__(self, owner: LocalServer) -> None:
        self.owner = owner
        self.address_family = socket.AF_INET6 if ":" in owner.host else socket.AF_INET
        super().__init__((owner.host, 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.owner.tls is not None:
            # The handshake happens in the handler's thread, so a client that never
            # completes one cannot block accepting others.
            connection = self.owner.tls.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def handle(self) -> None:
        try:
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.do_handshake()
            super().handle()
        except OSError:
            # The client hung up mid-answer, or refused the certificate: what many tests
            # provoke, so nothing to report. Errors in a route's own code still are.
            self.close_connection = True

    def do_GET(self) -> None:
        request = Request(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
        )
        reply = self.server.owner._reply_to(request)
        if reply is None:
            self.close_connection = True
            return
        self.send_response(reply.status)
        declared = {name.lower() for name in reply.headers}
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if isinstance(reply.body, bytes | str):
            data = reply.body.encode() if isinstance(reply.body, str) else reply.body
            if "content-length" not in declared:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        # A declared length may be a lie the test tells on purpose, and an unsized body
        # ends only when the connection does: close after either.
        framed = "content-length" not in declared and reply.chunked
        if framed:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        for chunk in reply.body():
            if chunk:  # an empty chunk would end a chunked body
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if framed else chunk)
        if framed:
            self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read server.requests instead
