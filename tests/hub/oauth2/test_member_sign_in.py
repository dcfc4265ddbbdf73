"""Members sign in to the alliance's app: authorization code + PKCE (S256) on the hub's
sign-in page with a code sent to the phone; RFC 9068 member tokens; rotating refresh
tokens with reuse detection."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import json
import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest

from core.db import utcnow
from hub.cli import main
from members.signin import create_app_client
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import _gql, _partner, _register

pytestmark = pytest.mark.anyio

REDIRECT = "com.alliance.app:/signed-in"
PHONE = "13800138000"
VIEWER = "{ viewer { kind clientId scopes } }"


def verifier_and_challenge() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hidden_fields(page: str) -> dict[str, str]:
    return {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type=hidden name="([^"]+)" value="([^"]*)">', page)
    }


def forms(page: str) -> list[dict[str, str]]:
    """Each form's hidden fields, in page order."""
    return [hidden_fields(part) for part in page.split("<form")[1:]]


@dataclass
class SignIn:
    hub: Hub
    client_id: str
    verifier: str
    challenge: str

    def query(self, **override: str) -> str:
        parameters = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            "scope": "member:self",
            "state": "xyz",
            **override,
        }
        return "/oauth/authorize?" + urlencode(parameters)

    async def send_code(self, phone: str = PHONE) -> httpx2.Response:
        page = await self.hub.http.get(self.query())
        assert page.status_code == 200, page.text
        form = {**hidden_fields(page.text), "phone": phone}
        return await self.hub.http.post("/oauth/authorize", data=form)

    async def enter_code(self, sent: httpx2.Response, code: str) -> httpx2.Response:
        form = {**hidden_fields(sent.text), "code": code}
        return await self.hub.http.post("/oauth/authorize", data=form)

    async def sign_in_code(self, before: int) -> str:
        """The code sent after ``before`` messages: sign-in codes go out after the page
        answered, so wait for it briefly."""
        for _ in range(100):
            sent = self.hub.outbox.read()
            if len(sent) > before:
                return sent[-1]["code"]
            await asyncio.sleep(0.02)
        raise AssertionError("no sign-in code was sent")

    async def signed_in_page(self, phone: str = PHONE) -> httpx2.Response:
        before = len(self.hub.outbox.read())
        sent = await self.send_code(phone)
        return await self.enter_code(sent, await self.sign_in_code(before))

    async def authorization_code(self, phone: str = PHONE) -> str:
        redirected = await self.signed_in_page(phone)
        if redirected.status_code == 200 and "Continue to the app" in redirected.text:
            redirected = await self.hub.http.post(
                "/oauth/authorize", data=forms(redirected.text)[-1]
            )
        return self.code_from(redirected)

    def code_from(self, redirected: httpx2.Response) -> str:
        assert redirected.status_code == 303, redirected.text
        location = urlsplit(redirected.headers["location"])
        assert f"{location.scheme}:{location.path}" == REDIRECT
        query = parse_qs(location.query)
        assert query["state"] == ["xyz"]
        return query["code"][0]

    async def exchange(self, code: str, **override: str) -> httpx2.Response:
        form = {
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": self.verifier,
            **override,
        }
        return await self.hub.http.post("/oauth/token", data=form)

    async def refresh(self, token: str) -> httpx2.Response:
        form = {"grant_type": "refresh_token", "client_id": self.client_id, "refresh_token": token}
        return await self.hub.http.post("/oauth/token", data=form)


async def app_sign_in(hub: Hub) -> SignIn:
    client_id = await hub.database.write(
        create_app_client, name="Alliance app", redirect_uris=[REDIRECT], now=utcnow()
    )
    return SignIn(hub, client_id, *verifier_and_challenge())


async def member_and_app(hub: Hub) -> tuple[str, SignIn]:
    store = await _partner(hub, "store")
    member = await _register(hub, store, phone=PHONE)
    return member, await app_sign_in(hub)


async def test_a_member_signs_in_with_a_code_and_gets_a_member_token(hub: Hub) -> None:
    member, app = await member_and_app(hub)

    page = await hub.http.get(app.query())
    assert "name=phone" in page.text
    assert "<script" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    code = await app.authorization_code()
    tokens = await app.exchange(code)

    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert (body["token_type"], body["scope"]) == ("Bearer", "member:self")
    claims = _claims(body["access_token"])
    assert (claims["sub"], claims["client_id"], claims["scope"]) == (
        member,
        app.client_id,
        "member:self",
    )
    viewer = await _gql(hub, VIEWER, body["access_token"])
    assert viewer["data"]["viewer"] == {
        "kind": "member",
        "clientId": app.client_id,
        "scopes": ["member:self"],
    }
    # The code works once.
    again = await app.exchange(code)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


def _claims(token: str) -> dict[str, object]:
    """The payload as issued (the signature is the bearer check's business, tested there)."""
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def test_pkce_is_required_and_checked(hub: Hub) -> None:
    _, app = await member_and_app(hub)

    plain = await hub.http.get(app.query(code_challenge_method="plain"))
    missing = await hub.http.get(app.query(code_challenge=""))
    code = await app.authorization_code()
    wrong = await app.exchange(code, code_verifier=verifier_and_challenge()[0])
    other_uri = await app.exchange(code, redirect_uri="com.alliance.app:/elsewhere")

    for refused in (plain, missing):
        assert refused.status_code == 303
        assert parse_qs(urlsplit(refused.headers["location"]).query)["error"] == ["invalid_request"]
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    assert (other_uri.status_code, other_uri.json()["error"]) == (400, "invalid_grant")


async def test_an_unregistered_redirect_uri_or_client_is_shown_never_redirected(hub: Hub) -> None:
    _, app = await member_and_app(hub)

    foreign = await hub.http.get(app.query(redirect_uri="https://evil.example/cb"))
    unknown = await hub.http.get(app.query(client_id="app_nobody"))

    assert (foreign.status_code, unknown.status_code) == (400, 400)
    assert "location" not in foreign.headers
    assert "location" not in unknown.headers


@pytest.mark.parametrize(
    "tricked",
    [
        REDIRECT + "/../evil",
        REDIRECT.upper(),
        REDIRECT + "?next=https://evil.example",
        REDIRECT + "#fragment",
        REDIRECT + " ",
        REDIRECT + "%00",
        REDIRECT.replace(":/", "://evil.example/"),
        "",
    ],
)
async def test_redirect_uri_variants_are_refused_unredirected(hub: Hub, tricked: str) -> None:
    _, app = await member_and_app(hub)

    page = await hub.http.get(app.query(redirect_uri=tricked))
    form = {**hidden_fields((await hub.http.get(app.query())).text), "redirect_uri": tricked}
    posted = await hub.http.post("/oauth/authorize", data={**form, "phone": PHONE})

    assert page.status_code == posted.status_code == 400
    assert "location" not in page.headers
    assert "location" not in posted.headers


async def test_the_code_is_bound_to_its_redirect_uri_client_and_verifier(hub: Hub) -> None:
    _, app = await member_and_app(hub)
    other = await app_sign_in(hub)
    code = await app.authorization_code()

    attempts = [
        await app.exchange(code, redirect_uri=REDIRECT + "/x"),
        await app.exchange(code, client_id=other.client_id),
        await app.exchange(code, code_verifier=secrets.token_urlsafe(48)),
        await app.exchange(code, code_verifier=app.challenge),  # the plain method
    ]

    assert [(a.status_code, a.json()["error"]) for a in attempts] == [(400, "invalid_grant")] * 4
    assert (await app.exchange(code)).status_code == 200  # failed attempts did not spend it


async def test_a_form_without_the_csrf_token_is_refused(hub: Hub) -> None:
    _, app = await member_and_app(hub)
    page = await hub.http.get(app.query())
    form = {**hidden_fields(page.text), "phone": PHONE, "csrf_token": "forged"}

    refused = await hub.http.post("/oauth/authorize", data=form)

    assert refused.status_code == 403
    assert hub.outbox.read()[-1]["kind"] == "registration"  # no sign-in code went out


async def test_an_unknown_phone_gets_the_same_page_and_never_signs_in(hub: Hub) -> None:
    _, app = await member_and_app(hub)

    known = await app.send_code(PHONE)
    unknown = await app.send_code("13100131000")

    def shape(page: str) -> str:
        return re.sub(r'value="[^"]*"', 'value=""', page)

    assert (known.status_code, unknown.status_code) == (200, 200)
    assert shape(known.text) == shape(unknown.text)
    assert [m["to"] for m in hub.outbox.read()].count("+8613100131000") == 0
    for guess in ("000000", "123456"):
        tried = await app.enter_code(unknown, guess)
        assert tried.status_code == 400
        assert "The code is wrong or no longer valid." in tried.text


async def test_codes_are_limited_per_phone_with_retry_after(hub: Hub) -> None:
    _, app = await member_and_app(hub)  # the registration's code counts apart
    for _ in range(5):
        assert (await app.send_code()).status_code == 200

    limited = await app.send_code()
    unknown = [await app.send_code("13100131000") for _ in range(6)]

    assert limited.status_code == 429
    assert 0 < int(limited.headers["retry-after"]) <= 900
    assert [r.status_code for r in unknown] == [200] * 5 + [429]


async def test_five_wrong_codes_end_the_sign_in(hub: Hub) -> None:
    _, app = await member_and_app(hub)
    before = len(hub.outbox.read())
    sent = await app.send_code()
    right = await app.sign_in_code(before)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    for _ in range(5):
        assert (await app.enter_code(sent, wrong)).status_code == 400
    last = await app.enter_code(sent, right)

    assert last.status_code == 400


async def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_family(hub: Hub) -> None:
    _, app = await member_and_app(hub)
    first = (await app.exchange(await app.authorization_code())).json()

    second = await app.refresh(first["refresh_token"])
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert (await _gql(hub, VIEWER, rotated["access_token"]))["data"]["viewer"]["kind"] == "member"

    reused = await app.refresh(first["refresh_token"])
    after_reuse = await app.refresh(rotated["refresh_token"])

    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    assert (after_reuse.status_code, after_reuse.json()["error"]) == (400, "invalid_grant")


async def _standing(hub: Hub, token: str) -> int:
    response = await hub.http.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code


async def test_a_revoked_family_stops_its_access_tokens_at_once(hub: Hub) -> None:
    """RFC 9700 §4.14.2: reuse detection revokes the family, and the access tokens it
    issued fail at the next request, not when they expire (found by an outside attack)."""
    _, app = await member_and_app(hub)
    first = (await app.exchange(await app.authorization_code())).json()
    rotated = (await app.refresh(first["refresh_token"])).json()
    other_session = (await app.exchange(await app.authorization_code())).json()
    assert _claims(first["access_token"])["sid"] == _claims(rotated["access_token"])["sid"]
    assert _claims(first["access_token"])["sid"] != _claims(other_session["access_token"])["sid"]
    assert await _standing(hub, first["access_token"]) == 200
    assert await _standing(hub, rotated["access_token"]) == 200

    reused = await app.refresh(first["refresh_token"])  # the leaked token comes back

    assert reused.status_code == 400
    assert await _standing(hub, first["access_token"]) == 401
    assert await _standing(hub, rotated["access_token"]) == 401
    # The member's other sign-in is another family and stands.
    assert await _standing(hub, other_session["access_token"]) == 200


async def test_a_replayed_authorization_code_stops_the_first_exchanges_tokens(hub: Hub) -> None:
    _, app = await member_and_app(hub)
    code = await app.authorization_code()
    first = (await app.exchange(code)).json()
    assert await _standing(hub, first["access_token"]) == 200

    replayed = await app.exchange(code)

    assert (replayed.status_code, replayed.json()["error"]) == (400, "invalid_grant")
    assert await _standing(hub, first["access_token"]) == 401
    assert (await app.refresh(first["refresh_token"])).status_code == 400


async def test_the_app_signs_out_by_revoking_either_token(hub: Hub) -> None:
    """RFC 7009 for the public app: revoking the refresh token (or the access token) ends
    the sign-in session, both tokens at once; another app cannot end it; an unknown token
    is answered 200 like a known one (RFC 7009 §2.2)."""
    _, app = await member_and_app(hub)
    by_refresh = (await app.exchange(await app.authorization_code())).json()
    by_access = (await app.exchange(await app.authorization_code())).json()
    intruder = await app_sign_in(hub)

    async def revoke(client_id: str, token: str) -> int:
        form = {"client_id": client_id, "token": token}
        return (await hub.http.post("/oauth/revoke", data=form)).status_code

    assert await revoke(intruder.client_id, by_refresh["refresh_token"]) == 200
    assert await _standing(hub, by_refresh["access_token"]) == 200  # not its to end
    assert await revoke(app.client_id, "no-such-token") == 200

    assert await revoke(app.client_id, by_refresh["refresh_token"]) == 200
    assert await revoke(app.client_id, by_access["access_token"]) == 200

    for tokens in (by_refresh, by_access):
        assert await _standing(hub, tokens["access_token"]) == 401
        assert (await app.refresh(tokens["refresh_token"])).status_code == 400
    metadata = (await hub.http.get("/.well-known/oauth-authorization-server")).json()
    assert "none" in metadata["revocation_endpoint_auth_methods_supported"]


async def test_a_member_token_cannot_act_as_a_partner_or_the_operator(hub: Hub) -> None:
    member, app = await member_and_app(hub)
    token = (await app.exchange(await app.authorization_code())).json()["access_token"]

    read = await _gql(hub, "query($id: ID!) { member(id: $id) { balance } }", token, id=member)
    closing = await _gql(
        hub,
        "mutation($id: ID!) { closeMember(input: {memberId: $id}) { userErrors { code } } }",
        token,
        id=member,
    )
    registering = await _gql(
        hub,
        'mutation { registerMember(input: {externalRef: "x", phone: "13900139000", consent: true}) { userErrors { code } } }',
        token,
    )

    for refused in (read, closing, registering):
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", refused


async def test_the_operator_registers_the_app_from_the_cli(
    hub: Hub, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["clients", "create-app", "--database-url", database_url, "--name", "Alliance app"]

    created = await asyncio.to_thread(main, [*args, "--redirect-uri", REDIRECT, "--json"])
    printed = json.loads(capsys.readouterr().out)
    refused = await asyncio.to_thread(
        main, [*args, "--redirect-uri", "http://evil.example/cb", "--json"]
    )

    assert created == 0
    assert set(printed) == {"client_id", "redirect_uris", "token_endpoint_auth_method", "scope"}
    assert printed["redirect_uris"] == [REDIRECT]
    assert refused != 0
    app = SignIn(hub, printed["client_id"], *verifier_and_challenge())
    store = await _partner(hub, "store")
    await _register(hub, store, phone=PHONE)
    assert (await app.exchange(await app.authorization_code())).status_code == 200


async def test_the_member_approves_a_request_on_the_approval_page(hub: Hub) -> None:
    member, app = await member_and_app(hub)
    cinema = await _partner(hub, "cinema")
    asked = await _gql(
        hub,
        """mutation($input: RequestMemberConsentInput!) { requestMemberConsent(input: $input) {
          request { id } } }""",
        cinema,
        input={"phone": PHONE, "externalRef": "fan-1", "purpose": "film club"},
    )
    assert asked["data"]["requestMemberConsent"]["request"]["id"]

    approval = await app.signed_in_page()
    assert approval.status_code == 200
    assert "Cinema" in approval.text
    assert "for: film club" in approval.text
    approve, deny, go_on = forms(approval.text)
    assert (approve["decision"], deny["decision"], go_on["step"]) == ("approve", "deny", "continue")
    forged = await hub.http.post("/oauth/authorize", data={**approve, "csrf_token": "x"})
    assert forged.status_code == 403
    for bad in ("99999999999999999999", "-1", "1e3", "", "\uff11"):
        odd = await hub.http.post("/oauth/authorize", data={**approve, "request": bad})
        assert odd.status_code == 409, (bad, odd.status_code)
    approved = await hub.http.post("/oauth/authorize", data=approve)

    code = app.code_from(approved)  # nothing else waits: on to the app
    assert (await app.exchange(code)).status_code == 200
    read = await _gql(hub, "query($id: ID!) { member(id: $id) { balance } }", cinema, id=member)
    assert read == {"data": {"member": {"balance": 0}}}
    replayed = await hub.http.post("/oauth/authorize", data=approve)
    assert replayed.status_code == 400


async def test_sign_in_logs_neither_the_phone_nor_the_codes(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, app = await member_and_app(hub)
    sent_before = len(hub.outbox.read())

    code = await app.authorization_code()
    tokens = (await app.exchange(code)).json()

    sign_in_code = hub.outbox.read()[sent_before]["code"]
    logged = "\n".join(
        f"{record.name} {record.getMessage()}"
        for record in caplog.records
        if not record.name.startswith("httpx")
    )
    assert "GET /oauth/authorize 200" in logged
    for secret in (PHONE, "8613800138000", sign_in_code, code, tokens["refresh_token"]):
        assert secret not in logged
