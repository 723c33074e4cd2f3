"""The guarded fetcher fetches from the public internet only, within time and size limits.

Everything is fetched from a real server on loopback. Addresses that must never be reached
are never reached: an audit hook records every socket connect while these tests run and
blocks any that is not to loopback, so a test of a refusal can prove that no connection
was even attempted, and a broken guard fails a test instead of touching a real network.
"""

import datetime
import gzip
import ipaddress
import logging
import socket
import ssl
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_django.fixtures import Settings

from sala.news.fetcher import MAX_BYTES, Fetched, FetchRefused, fetch
from sala.news.tests.http_server import LocalServer, Reply, local_server_fixture  # noqa: F401

FIXTURES = Path(__file__).parent / "fixtures"

# --- Connections: recorded, and kept on loopback ----------------------------------------

_recording: list[tuple[str, int]] | None = None


def _watch_connections(event: str, args: tuple[Any, ...]) -> None:
    # Audit hooks stay for the life of the process, so this one does nothing unless a
    # test of this module is running.
    if event != "socket.connect" or _recording is None or not isinstance(args[1], tuple):
        return
    host, port = args[1][0], args[1][1]
    _recording.append((host, port))
    if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
        raise ConnectionRefusedError(f"the fetcher tests connect to loopback only, not {host}")


sys.addaudithook(_watch_connections)


@pytest.fixture(autouse=True)
def connections() -> Iterator[list[tuple[str, int]]]:
    """Yield the (address, port) of every connect attempted during the test."""
    global _recording
    _recording = []
    try:
        yield _recording
    finally:
        _recording = None


@pytest.fixture
def loopback_allowed(settings: Any) -> None:
    settings.SALA_FETCH_ALLOW_LOOPBACK = True


@pytest.fixture
def loopback_refused(settings: Any) -> None:
    settings.SALA_FETCH_ALLOW_LOOPBACK = False


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[list[str]]]:
    """Answer DNS for the names put in the returned dict, one answer per lookup, in turn.

    The last answer repeats. Other names go to the real resolver.
    """
    answers: dict[str, list[list[str]]] = {}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real_getaddrinfo(host, port, *args, **kwargs)
        turn = answers[host]
        addresses = turn.pop(0) if len(turn) > 1 else turn[0]
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port),
            )
            for address in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def refusal(call: Callable[[], Fetched]) -> FetchRefused:
    """Return the FetchRefused `call` raises, after checking its message reads as a sentence."""
    with pytest.raises(FetchRefused) as caught:
        call()
    message = caught.value.message
    assert str(caught.value) == message
    assert message.endswith("."), message
    assert len(message.split()) >= 6, message
    for leak in ("Error:", "Error(", "Exception", "httpx", "Errno", "Traceback", "_ssl.c"):
        assert leak not in message, message
    return caught.value


# --- What is fetched --------------------------------------------------------------------


def test_fetches_a_feed_with_its_type_charset_and_validators(
    loopback_allowed: None, local_server: LocalServer
) -> None:
    feed = (FIXTURES / "rss2.xml").read_bytes()
    url = local_server.route(
        "/feed.xml",
        Reply(
            headers={
                "Content-Type": "application/rss+xml; charset=UTF-8",
                "ETag": '"v1"',
                "Last-Modified": "Tue, 04 Mar 2025 18:40:11 GMT",
            },
            body=feed,
        ),
    )

    fetched = fetch(url, kind="feed")

    assert fetched == Fetched(
        url=url,
        status=200,
        content_type="application/rss+xml",
        charset="UTF-8",
        body=feed,
        etag='"v1"',
        last_modified="Tue, 04 Mar 2025 18:40:11 GMT",
        not_modified=False,
    )
    (request,) = local_server.requests
    assert request.headers["user-agent"].startswith("Sala/")
    assert request.headers["accept-encoding"] == "gzip"
    assert "application/rss+xml" in request.headers["accept"]
    assert "if-none-match" not in request.headers


def test_inflates_a_gzipped_page(loopback_allowed: None, local_server: LocalServer) -> None:
    page = b"<!doctype html><title>Tram line approved</title>" + b"<p>Councillors voted." * 500
    url = local_server.route(
        "/article",
        Reply(
            headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
            body=gzip.compress(page),
        ),
    )

    assert fetch(url, kind="page").body == page


def test_reads_a_chunked_body_to_its_end(loopback_allowed: None, local_server: LocalServer) -> None:
    url = local_server.route(
        "/image.png",
        Reply(headers={"Content-Type": "image/png"}, body=lambda: [b"\x89PNG", b"rest" * 1000]),
    )

    fetched = fetch(url, kind="image")

    assert fetched.body == b"\x89PNG" + b"rest" * 1000
    assert fetched.content_type == "image/png"
    assert fetched.charset is None


def test_connects_to_the_checked_address_and_sends_the_name_as_host(
    loopback_allowed: None, local_server: LocalServer, connections: list[tuple[str, int]]
) -> None:
    url = local_server.route("/page", Reply(headers={"Content-Type": "text/html"}, body="<p>"))

    fetch(url.replace("127.0.0.1", "localhost"), kind="page")

    assert connections == [("127.0.0.1", local_server.port)]
    assert local_server.requests[0].headers["host"] == f"localhost:{local_server.port}"


def test_connects_to_the_address_it_checked_even_if_dns_then_answers_otherwise(
    loopback_allowed: None,
    local_server: LocalServer,
    connections: list[tuple[str, int]],
    resolver: dict[str, list[list[str]]],
    settings: Settings,
) -> None:
    # DNS rebinding: a public address for the check, then loopback for the connection.
    resolver["rebind.example"] = [["93.184.216.34"], ["127.0.0.1"]]
    settings.SALA_FETCH_PORTS = [local_server.port]  # the test server's port, as if public
    local_server.route("/", Reply(headers={"Content-Type": "text/html"}, body="<p>inside"))

    refused = refusal(lambda: fetch(f"http://rebind.example:{local_server.port}/", kind="page"))

    assert refused.code == "connect"
    assert "rebind.example" in refused.message
    assert connections == [("93.184.216.34", local_server.port)]
    assert local_server.requests == []


def test_tries_the_next_address_when_the_first_refuses_the_connection(
    loopback_allowed: None,
    local_server: LocalServer,
    connections: list[tuple[str, int]],
    resolver: dict[str, list[list[str]]],
) -> None:
    resolver["dual.example"] = [["127.0.0.2", "127.0.0.1"]]
    url = local_server.route("/", Reply(headers={"Content-Type": "text/html"}, body="<p>"))

    fetched = fetch(url.replace("127.0.0.1", "dual.example"), kind="page")

    assert fetched.status == 200
    assert connections == [("127.0.0.2", local_server.port), ("127.0.0.1", local_server.port)]


def test_ignores_proxies_named_in_the_environment(
    loopback_allowed: None, local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would connect by name, after the check, to whatever the name means then.
    url = local_server.route("/", Reply(headers={"Content-Type": "text/html"}, body="<p>"))
    with LocalServer() as proxy:
        for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            monkeypatch.setenv(variable, proxy.url())
        monkeypatch.delenv("NO_PROXY", raising=False)

        fetched = fetch(url, kind="page")

    assert fetched.body == b"<p>"
    assert proxy.requests == []


# --- Where it will not go ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://ftp.example.org/feed.xml",
        "javascript:alert(1)",
        "data:text/html,<p>hello",
        "gopher://example.org/",
        "courier.example.org/feed/",
    ],
)
def test_refuses_addresses_that_are_not_http_or_https(
    url: str, connections: list[tuple[str, int]]
) -> None:
    refused = refusal(lambda: fetch(url, kind="feed"))

    assert refused.code == "scheme"
    assert "https://" in refused.message
    assert connections == []


def test_refuses_an_address_with_a_user_name_and_password_without_repeating_them(
    connections: list[tuple[str, int]], caplog: pytest.LogCaptureFixture
) -> None:
    refused = refusal(lambda: fetch("https://editor:s3cret@courier.example.org/", kind="feed"))

    assert refused.code == "url"
    assert "password" in refused.message
    assert "s3cret" not in refused.message
    assert "s3cret" not in caplog.text
    assert connections == []


@pytest.mark.parametrize("url", ["http:///feed.xml", "https://"])
def test_refuses_an_address_without_a_host(url: str) -> None:
    refused = refusal(lambda: fetch(url, kind="feed"))

    assert refused.code == "url"
    assert "no host name" in refused.message


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.8.8.8", "2130706433"])
def test_refuses_loopback_when_the_setting_is_off(
    host: str,
    loopback_refused: None,
    local_server: LocalServer,
    connections: list[tuple[str, int]],
) -> None:
    local_server.route("/", Reply(headers={"Content-Type": "text/html"}, body="<p>inside"))

    refused = refusal(lambda: fetch(local_server.url("/", host=host), kind="page"))

    assert refused.code == "address"
    assert "loopback" in refused.message
    assert connections == []
    assert local_server.requests == []


def test_fetches_from_ipv6_loopback_when_the_setting_is_on(loopback_allowed: None) -> None:
    with LocalServer(host="::1") as server:
        url = server.route("/", Reply(headers={"Content-Type": "text/html"}, body="<p>"))

        assert url.startswith("http://[::1]:")
        assert fetch(url, kind="page").status == 200


@pytest.mark.parametrize(
    ("host", "named"),
    [
        ("169.254.169.254", "cloud metadata"),
        ("[fd00:ec2::254]", "cloud metadata"),
        ("[::ffff:169.254.169.254]", "cloud metadata"),
        ("[64:ff9b::a9fe:a9fe]", "cloud metadata"),  # NAT64 form of 169.254.169.254
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),  # shared address space (carrier-grade NAT)
        ("[fe80::1]", "private"),
        ("[fc00::1]", "private"),
        ("[fec0::1]", "private"),  # site-local, deprecated
        ("[::ffff:10.0.0.1]", "private"),
        ("[::ffff:0:a00:1]", "private"),  # IPv4-translated 10.0.0.1
        ("0.0.0.0", "private"),  # noqa: S104 (not bound here: an address to refuse)
        ("[::]", "private"),
        ("224.0.0.1", "private"),
        ("[ff02::1]", "private"),
        ("240.0.0.1", "private"),
        ("255.255.255.255", "private"),
        ("[::a00:1]", "private"),  # IPv4-compatible, deprecated
    ],
)
def test_refuses_internal_addresses_even_with_loopback_allowed(
    host: str, named: str, loopback_allowed: None, connections: list[tuple[str, int]]
) -> None:
    refused = refusal(lambda: fetch(f"http://{host}/latest/meta-data/", kind="page"))

    assert refused.code == "address"
    assert named in refused.message
    assert connections == []


def test_refuses_a_name_if_any_of_its_addresses_is_internal(
    loopback_allowed: None,
    resolver: dict[str, list[list[str]]],
    connections: list[tuple[str, int]],
) -> None:
    resolver["mixed.example"] = [["93.184.216.34", "10.1.2.3"]]

    refused = refusal(lambda: fetch("https://mixed.example/feed", kind="feed"))

    assert refused.code == "address"
    assert "mixed.example" in refused.message
    assert "10.1.2.3" in refused.message
    assert connections == []


@pytest.mark.parametrize("port", [22, 6379, 8443])
def test_refuses_ports_other_than_the_webs_own_on_public_hosts(
    port: int,
    resolver: dict[str, list[list[str]]],
    connections: list[tuple[str, int]],
) -> None:
    resolver["public.example"] = [["93.184.216.34"]]

    refused = refusal(lambda: fetch(f"https://public.example:{port}/feed", kind="feed"))

    assert refused.code == "port"
    assert f"not {port}" in refused.message and "80 and 443" in refused.message
    assert connections == []


def test_refuses_a_name_that_does_not_resolve(resolver: dict[str, list[list[str]]]) -> None:
    resolver["gone.example"] = [[]]

    refused = refusal(lambda: fetch("https://gone.example/feed", kind="feed"))

    assert refused.code == "dns"
    assert "gone.example" in refused.message


def test_refuses_when_nothing_listens(loopback_allowed: None) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    refused = refusal(lambda: fetch(f"http://127.0.0.1:{port}/", kind="page"))

    assert refused.code == "connect"
    assert "could not connect" in refused.message


# --- Redirects --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "code"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/", "address"),
        ("http://10.0.0.1/admin", "address"),
        ("http://[::ffff:192.168.1.1]/", "address"),
        ("file:///etc/passwd", "scheme"),
    ],
)
def test_checks_every_redirect_like_a_first_address(
    location: str,
    code: str,
    loopback_allowed: None,
    local_server: LocalServer,
    connections: list[tuple[str, int]],
) -> None:
    url = local_server.route("/go", Reply.redirect(location))

    refused = refusal(lambda: fetch(url, kind="page"))

    assert refused.code == code
    assert connections == [("127.0.0.1", local_server.port)]
    assert [request.path for request in local_server.requests] == ["/go"]


@pytest.fixture
def redirect_chain(local_server: LocalServer) -> LocalServer:
    """Route /hop/N to redirect to /hop/N-1 for N from 1 to 6; /hop/0 is a page."""
    for hop in range(1, 7):
        # Relative, absolute-path and absolute locations all resolve against the hop.
        location = [f"{hop - 1}", f"/hop/{hop - 1}", local_server.url(f"/hop/{hop - 1}")][hop % 3]
        local_server.route(f"/hop/{hop}", Reply.redirect(location, status=301 + hop % 2))
    local_server.route("/hop/0", Reply(headers={"Content-Type": "text/html"}, body="<p>here"))
    return local_server


def test_follows_five_redirects(loopback_allowed: None, redirect_chain: LocalServer) -> None:
    fetched = fetch(redirect_chain.url("/hop/5"), kind="page")

    assert fetched.url == redirect_chain.url("/hop/0")
    assert fetched.body == b"<p>here"
    assert len(redirect_chain.requests) == 6


def test_refuses_a_sixth_redirect(loopback_allowed: None, redirect_chain: LocalServer) -> None:
    refused = refusal(lambda: fetch(redirect_chain.url("/hop/6"), kind="page"))

    assert refused.code == "redirects"
    assert "more than 5 times" in refused.message
    assert len(redirect_chain.requests) == 6


def test_refuses_a_redirect_loop(loopback_allowed: None, local_server: LocalServer) -> None:
    local_server.route("/a", Reply.redirect("/b"))
    local_server.route("/b", Reply.redirect("/a", status=307))

    refused = refusal(lambda: fetch(local_server.url("/a"), kind="feed"))

    assert refused.code == "redirects"
    assert "loop" in refused.message
    assert [request.path for request in local_server.requests] == ["/a", "/b"]


# --- Limits -----------------------------------------------------------------------------


def test_refuses_a_declared_length_over_the_limit_without_reading_the_body(
    loopback_allowed: None, local_server: LocalServer
) -> None:
    def stall_then_send() -> Iterable[bytes]:
        local_server.wait(10)  # reading would take the whole timeout below
        yield b"\0" * 65536

    url = local_server.route(
        "/huge.jpg",
        Reply(
            headers={"Content-Type": "image/jpeg", "Content-Length": str(2 * 1024**3)},
            body=stall_then_send,
        ),
    )
    started = time.monotonic()

    refused = refusal(lambda: fetch(url, kind="image", timeout=5))

    assert time.monotonic() - started < 2.5
    assert refused.code == "too_large"
    assert "2.0\xa0GB" in refused.message
    assert "5.0\xa0MB" in refused.message


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "unsized"])
def test_cuts_off_a_stream_that_runs_past_the_limit(
    chunked: bool, loopback_allowed: None, local_server: LocalServer
) -> None:
    sent: list[int] = []

    def endless() -> Iterable[bytes]:
        for _ in range(10_000):  # 640 MB, if nobody stopped reading
            sent.append(65536)
            yield b"<p>" * 21845 + b"!"

    url = local_server.route(
        "/endless", Reply(headers={"Content-Type": "text/html"}, body=endless, chunked=chunked)
    )

    refused = refusal(lambda: fetch(url, kind="page", max_bytes=1024 * 1024))

    assert refused.code == "too_large"
    assert "1.0\xa0MB" in refused.message
    assert sum(sent) < 16 * 1024 * 1024


def test_refuses_a_gzip_bomb_quickly_without_inflating_it(
    loopback_allowed: None, local_server: LocalServer
) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    megabyte = bytes(1024 * 1024)
    bomb = b"".join(compressor.compress(megabyte) for _ in range(64)) + compressor.flush()
    assert len(bomb) < 100_000  # 64 MB once inflated
    url = local_server.route(
        "/bomb",
        Reply(headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}, body=bomb),
    )
    started = time.monotonic()
    tracemalloc.start()
    try:
        refused = refusal(lambda: fetch(url, kind="page"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert refused.code == "too_large"
    assert time.monotonic() - started < 2
    assert peak < 3 * MAX_BYTES  # inflating it all would need 64 MB


def test_counts_the_bytes_on_the_wire_as_well_as_the_inflated_ones(
    loopback_allowed: None, local_server: LocalServer
) -> None:
    # Bytes after the end of a gzip stream inflate to nothing, and still must not be
    # read without end.
    def tiny_page_then_junk() -> Iterable[bytes]:
        yield gzip.compress(b"<p>hello")
        for _ in range(10_000):
            yield b"\0" * 65536

    url = local_server.route(
        "/junk",
        Reply(
            headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
            body=tiny_page_then_junk,
        ),
    )

    refused = refusal(lambda: fetch(url, kind="page", max_bytes=1024 * 1024))

    assert refused.code == "too_large"


def test_refuses_broken_and_unknown_compression(
    loopback_allowed: None, local_server: LocalServer
) -> None:
    broken = local_server.route(
        "/broken",
        Reply(
            headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}, body=b"<p>not gzip"
        ),
    )
    unknown = local_server.route(
        "/brotli",
        Reply(headers={"Content-Type": "text/html", "Content-Encoding": "br"}, body=b"\x0b\x02"),
    )

    broken_refused = refusal(lambda: fetch(broken, kind="page"))
    unknown_refused = refusal(lambda: fetch(unknown, kind="page"))

    assert (broken_refused.code, unknown_refused.code) == ("decompression", "decompression")
    assert "broken compression" in broken_refused.message
    assert "“br”" in unknown_refused.message


def test_times_out_on_a_server_that_never_answers(
    loopback_allowed: None, local_server: LocalServer
) -> None:
    url = local_server.route("/silent", Reply(delay=30))
    started = time.monotonic()

    refused = refusal(lambda: fetch(url, kind="feed", timeout=0.5))

    assert 0.4 < time.monotonic() - started < 2
    assert refused.code == "timeout"
    assert "within 0.5 seconds" in refused.message


def test_times_out_on_a_server_that_drips_its_answer(
    loopback_allowed: None, local_server: LocalServer
) -> None:
    def drip() -> Iterable[bytes]:
        for _ in range(300):  # 30 s in all, each byte well within a read timeout
            yield b"<"
            local_server.wait(0.1)

    url = local_server.route("/drip", Reply(headers={"Content-Type": "text/html"}, body=drip))
    started = time.monotonic()

    refused = refusal(lambda: fetch(url, kind="page", timeout=0.5))

    assert time.monotonic() - started < 1.5
    assert refused.code == "timeout"


def test_times_out_on_an_unsized_body_that_stalls_rather_than_keep_what_came(
    loopback_allowed: None, local_server: LocalServer
) -> None:
    def start_then_stall() -> Iterable[bytes]:
        yield b"<p>The beginning"
        local_server.wait(30)

    url = local_server.route(
        "/stall",
        Reply(headers={"Content-Type": "text/html"}, body=start_then_stall, chunked=False),
    )
    started = time.monotonic()

    refused = refusal(lambda: fetch(url, kind="page", timeout=0.5))

    assert time.monotonic() - started < 1.5
    assert refused.code == "timeout"


@pytest.fixture
def header_dripper() -> Iterator[str]:
    """Yield the URL of a server that sends a status line, then a header line every 0.1 s
    for 5 s (LocalServer cannot: it sends its headers at once)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    stop = threading.Event()

    def drip() -> None:
        try:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                # 5 s at most, so a fetcher without a deadline fails the test, not hangs it.
                for _ in range(50):
                    if stop.wait(0.1):
                        return
                    connection.sendall(b"X-Drip: 1\r\n")
                connection.sendall(b"Content-Type: text/html\r\nContent-Length: 3\r\n\r\n<p>")
        except OSError:
            pass  # the client hung up, or nobody came

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    stop.set()
    listener.close()
    thread.join()


def test_times_out_on_a_server_that_drips_its_headers(
    loopback_allowed: None, header_dripper: str
) -> None:
    started = time.monotonic()

    refused = refusal(lambda: fetch(header_dripper, kind="page", timeout=0.5))

    assert time.monotonic() - started < 1.5
    assert refused.code == "timeout"


# --- What came back ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "content_type", "wanted"),
    [
        ("feed", "text/html; charset=utf-8", "news feed"),
        ("page", "application/pdf", "web page"),
        ("image", "image/svg+xml", "JPEG, PNG, GIF or WebP image"),
        ("image", "", "JPEG, PNG, GIF or WebP image"),
    ],
)
def test_refuses_content_of_the_wrong_type(
    kind: Any, content_type: str, wanted: str, loopback_allowed: None, local_server: LocalServer
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    url = local_server.route("/thing", Reply(headers=headers, body=b"something"))

    refused = refusal(lambda: fetch(url, kind=kind))

    assert refused.code == "content_type"
    assert wanted in refused.message
    assert (content_type.split(";")[0] or "no stated type") in refused.message


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_refuses_an_error_status_and_names_it(
    status: int, loopback_allowed: None, local_server: LocalServer
) -> None:
    url = local_server.route("/feed", Reply(status=status, headers={"Content-Type": "text/xml"}))

    refused = refusal(lambda: fetch(url, kind="feed"))

    assert refused.code == "status"
    assert f"answered {status} " in refused.message


def test_asks_only_for_a_change_and_reports_not_modified(
    loopback_allowed: None, local_server: LocalServer
) -> None:
    def conditional(request: Any) -> Reply:
        if request.headers.get("if-none-match") == '"v2"' or request.headers.get(
            "if-modified-since"
        ) == ("Wed, 05 Mar 2025 08:00:00 GMT"):
            return Reply(status=304)
        return Reply(
            headers={
                "Content-Type": "application/atom+xml",
                "ETag": '"v2"',
                "Last-Modified": "Wed, 05 Mar 2025 08:00:00 GMT",
            },
            body=b"<feed/>",
        )

    url = local_server.route("/atom", conditional)
    first = fetch(url, kind="feed")

    by_etag = fetch(url, kind="feed", etag=first.etag)
    by_date = fetch(url, kind="feed", last_modified=first.last_modified)

    assert (first.not_modified, first.body) == (False, b"<feed/>")
    for again in (by_etag, by_date):
        assert (again.not_modified, again.status, again.body) == (True, 304, b"")
    # A bare 304 repeats no validators: the caller's own are handed back, still valid.
    assert (by_etag.etag, by_date.last_modified) == (first.etag, first.last_modified)
    assert local_server.requests[1].headers["if-none-match"] == '"v2"'
    assert local_server.requests[2].headers["if-modified-since"] == first.last_modified


def test_logs_every_refusal_with_its_url_and_code(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sala.news.fetcher"):
        refusal(lambda: fetch("ftp://ftp.example.org/feed.xml", kind="feed"))

    (record,) = caplog.records
    assert record.name == "sala.news.fetcher"
    assert "ftp://ftp.example.org/feed.xml" in record.getMessage()
    assert "(scheme)" in record.getMessage()


# --- HTTPS ------------------------------------------------------------------------------


class CertificateAuthority:
    """A throwaway CA that signs server certificates for tests."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sala test CA")])
        self.certificate = (
            self._builder(name, self.key.public_key())
            .issuer_name(name)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.path = folder / "ca.pem"
        self.path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def server_context(self, dns_name: str) -> ssl.SSLContext:
        """Return a server-side TLS context with a certificate for `dns_name` (no IP)."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)])
        certificate = (
            self._builder(name, key.public_key())
            .issuer_name(self.certificate.subject)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        chain = self.folder / f"{dns_name}.pem"
        chain.write_bytes(
            certificate.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(chain)
        return context

    @staticmethod
    def _builder(name: x509.Name, public_key: Any) -> x509.CertificateBuilder:
        # Python 3.13 verifies strictly (VERIFY_X509_STRICT): key identifiers are required.
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .public_key(public_key)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
        )


@pytest.fixture
def certificate_authority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CertificateAuthority:
    """Yield a CA the fetcher trusts (through SSL_CERT_FILE) instead of the public ones."""
    authority = CertificateAuthority(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(authority.path))
    return authority


def test_verifies_the_certificate_against_the_name_not_the_address(
    loopback_allowed: None, certificate_authority: CertificateAuthority
) -> None:
    context = certificate_authority.server_context("localhost")
    server_names: list[str | None] = []
    context.sni_callback = lambda connection, name, context: server_names.append(name)
    with LocalServer(tls=context) as server:
        server.route("/", Reply(headers={"Content-Type": "text/html"}, body="<p>secure"))

        fetched = fetch(server.url("/", host="localhost"), kind="page")

    assert fetched.body == b"<p>secure"
    assert server_names == ["localhost"]
    assert server.requests[0].headers["host"] == f"localhost:{server.port}"


def test_refuses_a_certificate_for_another_name(
    loopback_allowed: None, certificate_authority: CertificateAuthority
) -> None:
    context = certificate_authority.server_context("elsewhere.example")
    with LocalServer(tls=context) as server:
        server.route("/", Reply(headers={"Content-Type": "text/html"}, body="<p>"))

        refused = refusal(lambda: fetch(server.url("/", host="localhost"), kind="page"))

    assert refused.code == "tls"
    assert "localhost" in refused.message
    assert server.requests == []
