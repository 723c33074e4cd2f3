"""What the fetcher tests share: every socket connect recorded and kept on loopback, and
fixtures for the loopback setting, DNS answers and refusals.

A test module imports the fixtures it uses by their `*_fixture` names (and
`connections_fixture`, autouse, always), as with `local_server_fixture`.

Audit hooks stay for the life of the process, so the hook installed here does nothing
unless a test that uses the `connections` fixture (autouse in the fetcher tests) runs.
"""

import ipaddress
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sala.news.fetcher import Fetched, FetchRefused
from sala.news.tests.http_server import LocalServer, Reply, local_server_fixture  # noqa: F401

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


@pytest.fixture(name="connections", autouse=True)
def connections_fixture() -> Iterator[list[tuple[str, int]]]:
    """Yield the (address, port) of every connect attempted during the test."""
    global _recording
    _recording = []
    try:
        yield _recording
    finally:
        _recording = None


@pytest.fixture(name="loopback_allowed")
def loopback_allowed_fixture(settings: Any) -> None:
    settings.SALA_FETCH_ALLOW_LOOPBACK = True


@pytest.fixture(name="loopback_refused")
def loopback_refused_fixture(settings: Any) -> None:
    settings.SALA_FETCH_ALLOW_LOOPBACK = False


@pytest.fixture(name="resolver")
def resolver_fixture(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[list[str]]]:
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
