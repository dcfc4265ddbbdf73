"""The hash-chained audit of blocked attempts, and who may read it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

import ledger
from hub.cli import main
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import AWARD, REGISTER, _award_input, _gql, _partner, _register

pytestmark = pytest.mark.anyio

ATTEMPTS = """query($rule: String, $partnerCode: String) {
  blockedAttempts(rule: $rule, partnerCode: $partnerCode) {
    edges { node { rule operation partner { code } } }
  }
}"""


async def _refusals(hub: Hub) -> tuple[str, str, str]:
    """The store tries a second award on one order (CR-01); the optician registers someone
    without consent (CR-10)."""
    store = await _partner(hub, "store")
    optician = await _partner(hub, "optician")
    member = await _register(hub, store)
    await _gql(hub, AWARD, store, input=_award_input(member))
    await _gql(hub, AWARD, store, input=_award_input(member, key="again"))
    await _gql(
        hub,
        REGISTER,
        optician,
        input={"externalRef": "x", "phone": "13900139000", "consent": False},
    )
    operator = await hub.access_token(await hub.client(partner=None, scopes=("operator:admin",)))
    return store, optician, operator


async def test_a_refusal_is_audited_though_its_transaction_rolled_back(hub: Hub) -> None:
    store, _, _ = await _refusals(hub)

    mine = await _gql(hub, ATTEMPTS, store)
    report = await hub.database.read(ledger.verify)

    assert mine["data"]["blockedAttempts"]["edges"] == [
        {"node": {"rule": "CR-01", "operation": "awardPoints", "partner": {"code": "store"}}}
    ]
    assert (report.clean, report.transfers, report.member_points) == (True, 1, 123)


async def test_the_operator_sees_every_refusal_and_can_filter(hub: Hub) -> None:
    _, optician, operator = await _refusals(hub)

    everything = await _gql(hub, ATTEMPTS, operator)
    by_rule = await _gql(hub, ATTEMPTS, operator, rule="CR-10")
    by_partner = await _gql(hub, ATTEMPTS, operator, partnerCode="store")
    theirs = await _gql(hub, ATTEMPTS, optician, partnerCode="store")

    assert [e["node"]["rule"] for e in everything["data"]["blockedAttempts"]["edges"]] == [
        "CR-10",
        "CR-01",
    ]
    assert [e["node"]["operation"] for e in by_rule["data"]["blockedAttempts"]["edges"]] == [
        "registerMember"
    ]
    assert [e["node"]["rule"] for e in by_partner["data"]["blockedAttempts"]["edges"]] == ["CR-01"]
    assert theirs["data"]["blockedAttempts"]["edges"] == []


async def test_anonymous_callers_cannot_read_the_audit(hub: Hub) -> None:
    body = await _gql(hub, ATTEMPTS)

    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_the_audit_holds_no_personal_data(hub: Hub) -> None:
    await _refusals(hub)

    def audit(session: Session) -> str:
        return " ".join(
            str(v) for row in session.execute(text("SELECT * FROM compliance_audit")) for v in row
        )

    stored = await hub.database.read(audit)
    assert "13900139000" not in stored
    assert "registration needs the member's consent" in stored


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (
            "UPDATE compliance_audit SET summary = 'nothing happened' WHERE sequence = 1",
            "row 1: its content does not match its hash",
        ),
        (
            "UPDATE compliance_audit SET rule = 'CR-02' WHERE sequence = 2",
            "row 2: its content does not match its hash",
        ),
        (
            "DELETE FROM compliance_audit WHERE sequence = 1",
            "row 2: expected sequence 1: rows are missing",
        ),
    ],
)
async def test_editing_or_deleting_any_row_is_detected(
    hub: Hub, database_url: str, capsys: pytest.CaptureFixture[str], tamper: str, reason: str
) -> None:
    await _refusals(hub)
    assert (
        await asyncio.to_thread(
            main, ["compliance", "verify-audit", "--database-url", database_url]
        )
        == 0
    )
    intact = capsys.readouterr().out

    def edit(session: Session) -> None:
        session.execute(text(tamper))

    await hub.database.write(edit)
    status = await asyncio.to_thread(
        main, ["compliance", "verify-audit", "--database-url", database_url]
    )

    assert intact == "compliance audit intact: 2 blocked attempts, chain verified\n"
    assert status == 1
    assert reason in capsys.readouterr().out
