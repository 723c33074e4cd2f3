"""The guarded fetcher fetches from the public internet only: what it fetches, where it
will not go, and the redirects it follows.

Everything is fetched from a real server on loopback; `sala.news.tests.fetching` records
every socket connect and blocks any that is not to loopback, so a test of a refusal can
prove that no connection was even attempted.
"""

import gzip
import socket
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from sala.news.fetcher import Fetched, fetch
from sala.news.tests.fetching import (  # noqa: F401 (fixtures)
    connections_fixture,
    loopback_allowed_fixture,
    loopback_refused_fixture,
    refusal,
    resolver_fixture,
)
from sala.news.tests.http_server import LocalServer, Reply, local_server_fixture  # noqa: F401

FIXTURES = Path(__file__).parent / "fixtures"

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
