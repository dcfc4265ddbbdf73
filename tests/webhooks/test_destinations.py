"""SSRF: where the hub refuses to post, at registration and again at each delivery."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from core.config import get_settings
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import AWARD, _award_input, _gql, _register
from tests.webhooks.conftest import CREATE, Clock, register_endpoint, webhook_partner, worker
from tests.webhooks.receiver import Receiver
from webhooks.destinations import address_allowed, check_destination
from webhooks.errors import UnsafeDestination

pytestmark = pytest.mark.anyio


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HUB_ENV", "production")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("HUB_ENV")
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "::ffff:10.0.0.1",
        # 6to4 addresses carrying a non-public IPv4, site-local, the 6to4 relays (found by an
        # outside attack)
        "2002:7f00:1::1",
        "2002:a9fe:a9fe::1",
        "2002:a00:1::1",
        "fec0::1",
        "192.88.99.1",
    ],
)
def test_non_public_addresses_are_refused_in_production(address: str) -> None:
    assert address_allowed(ipaddress.ip_address(address), production=True) is False


def test_public_addresses_are_allowed_and_loopback_only_in_development() -> None:
    assert address_allowed(ipaddress.ip_address("93.184.216.34"), production=True)
    assert address_allowed(ipaddress.ip_address("127.0.0.1"), production=False)
    assert not address_allowed(ipaddress.ip_address("10.0.0.1"), production=False)
    # 6to4 of a public address is that public address; of loopback, no loopback at all
    assert address_allowed(ipaddress.ip_address("2002:5db8:d822::1"), production=True)
    assert not address_allowed(ipaddress.ip_address("2002:7f00:1::1"), production=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://[::1]:8443/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://user:pw@93.184.216.34/hook",
        "ftp://93.184.216.34/hook",
        "https:///nohost",
        "https://" + "a" * 2100 + ".example/",
    ],
)
async def test_unsafe_urls_are_refused_in_production(url: str) -> None:
    with pytest.raises(UnsafeDestination):
        await check_destination(url, production=True)


async def test_a_private_endpoint_is_refused_when_registered_in_production(
    hub: Hub, production: None
) -> None:
    """Issue 16's fourth acceptance point."""
    store = await webhook_partner(hub, "store")

    refused = await _gql(
        hub,
        CREATE,
        store,
        input={"url": "https://10.0.0.5/hooks", "eventTypes": ["points.awarded"]},
    )

    assert refused["data"]["createWebhookEndpoint"] == {
        "endpoint": None,
        "secret": None,
        "userErrors": [
            {
                "code": "UNSAFE_DESTINATION",
                "message": "refused webhook destination: the host resolves to a non-public address",
                "field": ["url"],
            }
        ],
    }


async def test_each_delivery_checks_the_destination_again(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await webhook_partner(hub, "store")
    with Receiver() as receiver:
        created = await register_endpoint(hub, store, receiver.url, ["points.awarded"])
        receiver.secret = created["secret"]
        member = await _register(hub, store)
        await _gql(hub, AWARD, store, input=_award_input(member))
        monkeypatch.setenv("HUB_ENV", "production")
        get_settings.cache_clear()
        try:
            clock = Clock()
            await worker(hub.database, clock).deliver()
        finally:
            monkeypatch.delenv("HUB_ENV")
            get_settings.cache_clear()
        log = await _gql(
            hub,
            "query($id: ID!) { webhookDeliveries(endpointId: $id) { edges { node { status attempts { outcome } } } } }",
            store,
            id=created["endpoint"]["id"],
        )

    assert receiver.requests == 0
    assert log["data"]["webhookDeliveries"]["edges"][0]["node"] == {
        "status": "PENDING",
        "attempts": [{"outcome": "refused_destination"}],
    }


async def test_redirects_are_not_followed(hub: Hub) -> None:
    store = await webhook_partner(hub, "store")
    with Receiver() as receiver, Receiver() as elsewhere:
        created = await register_endpoint(hub, store, receiver.url, ["points.awarded"])
        receiver.secret = created["secret"]
        receiver.redirect_to = elsewhere.url
        member = await _register(hub, store)
        await _gql(hub, AWARD, store, input=_award_input(member))
        await worker(hub.database, Clock()).deliver()

    assert receiver.requests == 1
    assert elsewhere.requests == 0
