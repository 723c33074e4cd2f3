"""Drive Sala's ASGI application in-process: one request, read until enough is seen."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sala.asgi import application


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str = ""
    #: The client went away before the response ended (a stream it stopped reading).
    disconnected: bool = field(default=False)


async def request(
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    read_until: str | None = None,
    when_seen: tuple[str, Callable[[], Awaitable[object]]] | None = None,
    client: str = "203.0.113.5",
    timeout: float = 10.0,
) -> Answer:
    """Send one request (`path`, with any `?query`) to the ASGI application; return its answer.

    A streaming answer is read until `read_until` appears in the body; then the client
    disconnects, as a closed tab does, and the application is awaited to its end. With
    `when_seen=(text, action)`, `action()` starts once `text` appears, while the answer
    goes on being read (to write something an open stream should hear, say).
    """
    sent_headers = {"host": "testserver", **(headers or {})}
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in sent_headers.items()],
        "client": (client, 50000),
        "server": ("testserver", 80),
    }
    answer = Answer(status=0, headers={})
    chunks: list[bytes] = []
    gone = asyncio.Event()
    requested = False
    actions: list[asyncio.Future[object]] = []

    async def receive() -> dict[str, object]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    def stop_if_failed(action: asyncio.Future[object]) -> None:
        # A failed action ends the reading at once; it is raised below.
        if not action.cancelled() and action.exception() is not None:
            gone.set()

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            answer.status = int(message["status"])  # type: ignore[call-overload]
            for key, value in message["headers"]:  # type: ignore[attr-defined]
                answer.headers[key.decode()] = value.decode()
            return
        chunks.append(message.get("body", b""))  # type: ignore[arg-type]
        body = b"".join(chunks).decode()
        if when_seen is not None and not actions and when_seen[0] in body:
            action = asyncio.ensure_future(when_seen[1]())
            action.add_done_callback(stop_if_failed)
            actions.append(action)
        if read_until is not None and read_until in body:
            answer.disconnected = True
            gone.set()

    await asyncio.wait_for(application(scope, receive, send), timeout)  # type: ignore[arg-type]
    for action in actions:
        await action  # its failure is the test's
    answer.body = b"".join(chunks).decode()
    return answer
