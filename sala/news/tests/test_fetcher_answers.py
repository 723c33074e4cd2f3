"""The guarded fetcher keeps within its time and size limits, checks what comes back, and
verifies certificates.

Everything is fetched from a real server on loopback; `sala.news.tests.fetching` records
every socket connect and blocks any that is not to loopback.
"""

import datetime
import gzip
import logging
import socket
import ssl
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sala.news.fetcher import MAX_BYTES, fetch
from sala.news.tests.fetching import (  # noqa: F401 (fixtures)
    connections_fixture,
    loopback_allowed_fixture,
    loopback_refused_fixture,
    refusal,
    resolver_fixture,
)
from sala.news.tests.http_server import LocalServer, Reply, local_server_fixture  # noqa: F401

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
