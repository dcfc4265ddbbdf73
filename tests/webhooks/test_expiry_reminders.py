"""Expiry reminders on the member's phone (CR-11, 到期提醒): for members who opted in with
their own phone, one message per daily notice, sent by the worker through the notifier,
never twice (a restarted worker included), skipped for closed accounts and withdrawn
opt-ins, carrying no personal data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.config import get_settings
from core.db import utcnow
from core.notify import Notification, NotificationFailed
from hub.worker import Worker, expiry_notices
from members.reminders import MemberMessage
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import AWARD, _award_input, _gql, _register
from tests.hub.test_member_self import member_token
from tests.webhooks.conftest import Clock, webhook_partner

pytestmark = pytest.mark.anyio

PHONE = "+8613800138000"  # the member _register signs up, normalised
REMIND = """mutation($enabled: Boolean!, $phone: String) {
  setExpiryReminders(input: {enabled: $enabled, phone: $phone}) {
    preferences { expiryReminders personalisedOffers } userErrors { code field } } }"""
PREFERENCES = "{ me { privacyPreferences { expiryReminders } } }"
CLOSE = """mutation { closeMyAccount(input: {confirm: true}) { closed userErrors { code } } }"""


def _reminders(hub: Hub) -> list[dict[str, str]]:
    return [m for m in hub.outbox.read() if m["kind"] == "expiry-reminder"]


async def _member_with_points(hub: Hub) -> tuple[str, str]:
    """A member with 123 points expiring in 365 days, signed in to the app."""
    store = await webhook_partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, AWARD, store, input=_award_input(member))
    return member, await member_token(hub)


async def _notice_day(hub: Hub, clock: Clock, worker: Worker) -> int:
    """The daily notice job, then the worker's message round."""
    await expiry_notices(30)(hub.database, clock())
    return await worker.remind()


async def test_a_member_who_opted_in_hears_once_before_points_expire(hub: Hub) -> None:
    _, token = await _member_with_points(hub)
    turned_on = await _gql(hub, REMIND, token, enabled=True, phone="138 0013 8000")
    clock = Clock(utcnow() + timedelta(days=340))  # 25 days before they expire
    worker = Worker(hub.database, get_settings(), clock=clock, notifier=hub.outbox)

    sent = await _notice_day(hub, clock, worker)
    clock.advance(timedelta(hours=2))
    again = await _notice_day(hub, clock, worker)
    restarted = Worker(hub.database, get_settings(), clock=clock, notifier=hub.outbox)
    after_restart = await _notice_day(hub, clock, restarted)
    clock.advance(timedelta(days=1))
    next_day = await _notice_day(hub, clock, restarted)

    assert turned_on["data"]["setExpiryReminders"] == {
        "preferences": {"expiryReminders": True, "personalisedOffers": False},
        "userErrors": [],
    }
    assert (sent, again, after_restart, next_day) == (1, 0, 0, 0)
    [message] = _reminders(hub)
    assert message["to"] == PHONE
    assert "123" in message["text"]
    expires_on = (utcnow() + timedelta(days=365)).date()
    assert any((expires_on + timedelta(days=d)).isoformat() in message["text"] for d in (-1, 0, 1))
    assert "Li Lei" not in message["text"]  # the name stays out
    assert message["code"] == ""
    assert (await _gql(hub, PREFERENCES, token))["data"]["me"]["privacyPreferences"] == {
        "expiryReminders": True
    }


async def test_without_the_opt_in_only_partners_hear(hub: Hub) -> None:
    await _member_with_points(hub)
    clock = Clock(utcnow() + timedelta(days=340))
    worker = Worker(hub.database, get_settings(), clock=clock, notifier=hub.outbox)

    sent = await _notice_day(hub, clock, worker)

    assert sent == 0
    assert _reminders(hub) == []


async def test_only_the_members_own_phone_turns_reminders_on(hub: Hub) -> None:
    _, token = await _member_with_points(hub)

    someone_else = await _gql(hub, REMIND, token, enabled=True, phone="13900139000")
    no_phone = await _gql(hub, REMIND, token, enabled=True)
    malformed = await _gql(hub, REMIND, token, enabled=True, phone="call me")
    partner = await _gql(hub, REMIND, await webhook_partner(hub, "other"), enabled=False)

    for refused in (someone_else, no_phone, malformed):
        assert refused["data"]["setExpiryReminders"]["preferences"] is None
        assert refused["data"]["setExpiryReminders"]["userErrors"][0]["field"] == ["phone"]
    assert partner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    preferences = await _gql(hub, PREFERENCES, token)
    assert preferences["data"]["me"]["privacyPreferences"] == {"expiryReminders": False}


async def test_turning_reminders_off_or_closing_skips_what_was_not_sent(hub: Hub) -> None:
    _, token = await _member_with_points(hub)
    await _gql(hub, REMIND, token, enabled=True, phone=PHONE)
    clock = Clock(utcnow() + timedelta(days=340))
    worker = Worker(hub.database, get_settings(), clock=clock, notifier=hub.outbox)
    await expiry_notices(30)(hub.database, clock())  # queued, not yet sent

    turned_off = await _gql(hub, REMIND, token, enabled=False)
    sent = await worker.remind()

    assert turned_off["data"]["setExpiryReminders"]["preferences"] == {
        "expiryReminders": False,
        "personalisedOffers": False,
    }
    assert sent == 0
    assert _reminders(hub) == []
    statuses = await hub.database.read(
        lambda session: list(session.execute(select(MemberMessage.status)).scalars())
    )
    assert statuses == ["SKIPPED"]


async def test_a_closed_account_gets_no_message_and_keeps_no_phone(hub: Hub) -> None:
    _, token = await _member_with_points(hub)
    await _gql(hub, REMIND, token, enabled=True, phone=PHONE)
    clock = Clock(utcnow() + timedelta(days=340))
    worker = Worker(hub.database, get_settings(), clock=clock, notifier=hub.outbox)
    await expiry_notices(30)(hub.database, clock())

    closed = await _gql(hub, CLOSE, token)
    sent = await worker.remind()

    assert closed["data"]["closeMyAccount"]["closed"] is True
    assert sent == 0
    assert _reminders(hub) == []
    kept = await hub.database.read(
        lambda session: session.execute(select(MemberMessage.status, MemberMessage.member_id)).all()
    )
    assert [status for status, _ in kept] == ["SKIPPED"]


class FlakyGateway:
    """Refuses the first ``failures`` messages, then delivers to ``into``."""

    def __init__(self, failures: int, into: list[Notification]) -> None:
        self.failures = failures
        self.into = into

    async def send(self, notification: Notification) -> None:
        if self.failures:
            self.failures -= 1
            raise NotificationFailed("the SMS gateway answered 503")
        self.into.append(notification)


async def test_a_gateway_outage_is_retried_with_backoff_and_sent_once(hub: Hub) -> None:
    _, token = await _member_with_points(hub)
    await _gql(hub, REMIND, token, enabled=True, phone=PHONE)
    clock = Clock(utcnow() + timedelta(days=340))
    delivered: list[Notification] = []
    worker = Worker(hub.database, get_settings(), clock=clock, notifier=FlakyGateway(3, delivered))
    await expiry_notices(30)(hub.database, clock())

    tries = [await worker.remind()]
    for _ in range(20):
        clock.advance(timedelta(minutes=5))
        tries.append(await worker.remind())

    assert sum(tries) == 4  # three refusals, then the one message
    assert [n.to for n in delivered] == [PHONE]


async def test_a_worker_killed_mid_send_sends_again_after_its_lease(hub: Hub) -> None:
    """The claim is committed before the send: a worker that dies before recording leaves
    the message leased; once the lease runs out another worker sends it (at least once)."""
    _, token = await _member_with_points(hub)
    await _gql(hub, REMIND, token, enabled=True, phone=PHONE)
    clock = Clock(utcnow() + timedelta(days=340))
    await expiry_notices(30)(hub.database, clock())
    settings = get_settings()
    from members.reminders import claim_messages

    claimed = await hub.database.write(
        claim_messages, settings.secret_key, clock(), 10, settings.webhook_lease
    )  # ... and the worker dies here
    survivor = Worker(hub.database, settings, clock=clock, notifier=hub.outbox)
    during_lease = await survivor.remind()
    clock.advance(settings.webhook_lease + timedelta(seconds=1))
    after_lease = await survivor.remind()

    assert len(claimed) == 1
    assert (during_lease, after_lease) == (0, 1)
    assert [m["to"] for m in _reminders(hub)] == [PHONE]
