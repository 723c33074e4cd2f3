"""Which address a request counts as coming from, behind a proxy or not."""

import pytest
from django.http import HttpRequest
from django.test import RequestFactory
from pytest_django.fixtures import Settings

from sala.core.client_address import client_address, client_network

factory = RequestFactory()


def request_from(address: str, forwarded: str | None = None) -> HttpRequest:
    request = factory.get("/", REMOTE_ADDR=address)
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


def test_a_direct_client_is_its_own_address() -> None:
    assert client_address(request_from("203.0.113.7")) == "203.0.113.7"


def test_behind_a_trusted_proxy_the_forwarded_address_counts() -> None:
    request = request_from("127.0.0.1", "198.51.100.4")

    assert client_address(request) == "198.51.100.4"


def test_a_forwarded_header_from_an_untrusted_client_is_ignored() -> None:
    request = request_from("203.0.113.7", "198.51.100.4")

    assert client_address(request) == "203.0.113.7"


def test_a_client_cannot_hide_behind_an_address_it_made_up(settings: Settings) -> None:
    settings.SALA_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    # The client sent "1.2.3.4" itself; the load balancer (10.0.0.2) saw 198.51.100.4.
    request = request_from("127.0.0.1", "1.2.3.4, 198.51.100.4, 10.0.0.2")

    assert client_address(request) == "198.51.100.4"


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.4", "198.51.100.4"),
        ("198.51.100.4", "198.51.100.4"),
    ],
)
def test_an_ipv6_client_counts_by_its_slash_64(address: str, network: str) -> None:
    assert client_network(request_from(address)) == network
