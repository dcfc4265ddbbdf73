"""A realistic demo alliance: seven partners, their catalogues, members with history, and a
client per partner whose credentials are printed so someone can try the API at once.

The partners and prices follow the seed texts: 1 yuan earns 1 point; 2,000 points buy
200-yuan lenses, 1,500 on Eye-Care Day; 1,000 points buy an eye exam.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from compliance.audit import record_blocked
from compliance.errors import ComplianceViolation
from core.config import Settings
from core.db import Database
from members.baskets import set_basket_bonus
from members.benefits import set_credit_schedule
from members.earning import Line, award
from members.member_prices import PriceRowInput, set_member_prices
from members.models import Member
from members.perks import publish_perk
from members.redemption import charity_donation, redeem_item
from members.registration import confirm_registration, start_registration
from members.signin import create_app_client
from members.tiers import TierInput, set_tier_schedule
from partners.catalog import ItemInput, upsert_items
from partners.clients import create_client
from partners.green import decide_green_product, register_green_product
from partners.models import CatalogItem, Partner
from partners.promotions import set_promotion
from partners.registry import add_partner
from partners.scopes import PARTNER_SCOPES
from partners.terms import set_marketing_budget, set_settlement_terms

CREDENTIALS_FILE = Path("demo-credentials.json")
SCOPES = list(PARTNER_SCOPES)


@dataclass(frozen=True)
class DemoPartner:
    code: str
    name: str
    legal_entity: str
    category: str
    products: tuple[tuple[str, int, bool], ...]  # title, base points, green


PARTNERS = (
    DemoPartner(
        "redrice",
        "Red Rice Mart",
        "Red Rice Retail Co., Ltd.",
        "grocery",
        (
            ("Mineral water 550ml", 20, False),
            ("Soy milk", 30, False),
            ("Steamed bun", 25, False),
            ("Reusable shopping bag", 60, True),
            ("Bamboo toothbrush", 80, True),
            ("Organic rice 5kg", 600, True),
            ("Instant noodles", 45, False),
            ("Green tea drink", 35, False),
            ("Refill detergent", 150, True),
            ("Seasonal fruit box", 400, False),
            ("Eco laundry pods", 180, True),
            ("Fresh milk 1L", 40, False),
        ),
    ),
    DemoPartner(
        "starcinema",
        "Star Cinema",
        "Star Cinema Culture Ltd.",
        "film",
        (
            ("2D movie ticket", 350, False),
            ("3D movie ticket", 450, False),
            ("IMAX ticket", 700, False),
            ("Popcorn combo", 250, False),
            ("Kids matinee ticket", 250, False),
            ("Eco cup refill", 90, True),
            ("Premiere night pass", 1200, False),
        ),
    ),
    DemoPartner(
        "leafteahouse",
        "Leaf Tea House",
        "Leaf Tea Beverage Co.",
        "tea",
        (
            ("Jasmine milk tea", 150, False),
            ("Oolong cold brew", 180, False),
            ("Bring-your-own-cup discount", 50, True),
            ("Cheese foam green tea", 200, False),
            ("Tea leaves gift tin", 800, False),
            ("Seasonal fruit tea", 220, False),
        ),
    ),
    DemoPartner(
        "swiftride",
        "Swift Ride",
        "Swift Ride Mobility Ltd.",
        "mobility",
        (
            ("5-yuan ride voucher", 500, False),
            ("Airport transfer voucher", 3000, False),
            ("Carpool ride voucher", 300, True),
            ("EV ride voucher", 400, True),
        ),
    ),
    DemoPartner(
        "inkbooks",
        "Ink & Page Books",
        "Ink and Page Bookstore Co.",
        "books",
        (
            ("Paperback novel", 450, False),
            ("Children's picture book", 350, False),
            ("Recycled-paper notebook", 120, True),
            ("E-reader sleeve", 600, False),
            ("Poetry collection", 400, False),
            ("Reading room day pass", 200, False),
        ),
    ),
    DemoPartner(
        "clearsight",
        "Clear Sight Optics",
        "Clear Sight Optical Chain Ltd.",
        "eyes",
        (
            ("Blue-light lenses (200 yuan)", 2000, False),
            ("Frames (300 yuan)", 3000, False),
            ("Eye exam and cleaning", 1000, False),
            ("Lens cleaning kit", 150, False),
            ("Recycled-acetate frames", 2800, True),
        ),
    ),
    DemoPartner(
        "greenfuture",
        "Green Future Foundation",
        "Green Future Charity Foundation",
        "charity",
        (
            ("Plant a tree", 1, True),
            ("School lunch fund", 1, False),
            ("River clean-up", 1, True),
        ),
    ),
)


def _items(partner: DemoPartner) -> list[ItemInput]:
    """Every product in five editions (charity projects in one), over 200 items in all."""
    kind = (
        "CHARITY"
        if partner.category == "charity"
        else ("VOUCHER" if partner.category in ("film", "mobility") else "GOODS")
    )
    items = []
    editions = (
        ("", 1),
        (" (family pack)", 3),
        (" (gift edition)", 2),
        (" (limited edition)", 4),
        (" (members' edition)", 5),
    )
    for index, (title, points, green) in enumerate(partner.products):
        for suffix_index, (suffix, factor) in enumerate(editions):
            if kind == "CHARITY" and suffix_index:
                continue
            items.append(
                ItemInput(
                    sku=f"{partner.code}-{index:02d}-{suffix_index}",
                    title=f"{title}{suffix}",
                    category=partner.category,
                    kind=kind,
                    green=green,
                    base_points=points * factor,
                )
            )
    return items


def _partners_exist(session: Session) -> bool:
    return (
        session.execute(select(Partner.id).where(Partner.code == PARTNERS[0].code)).first()
        is not None
    )


HISTORY_START = timedelta(days=60)
DEMO_TIERS = (
    TierInput("BASIC", "普通", 0, 0, "1", ["会员价"]),
    TierInput("SILVER", "银卡", 2000, 0, "1.2", ["会员价", "生日双倍积分"]),
    TierInput("GOLD", "金卡", 5000, 3, "1.5", ["会员价", "免费爆米花升级", "专属验光顾问"]),
    TierInput("DIAMOND", "钻石", 10000, 3, "2", ["会员价", "免费爆米花升级", "专属验光顾问"]),
)


def _programme(
    session: Session, settings: Settings, credentials: dict[str, Any], now: datetime
) -> None:
    """The loyalty programme (docs/programme.md), published before the members' history:
    a tier schedule, a credit schedule, a basket bonus at the mart (snacks + drinks),
    perks at the cinema and the optician, and a tier price at the cinema."""
    since = now - HISTORY_START
    published = since - settings.price_notice - timedelta(days=1)
    set_tier_schedule(
        session,
        effective_at=since,
        tiers=DEMO_TIERS,
        now=published,
        notice=settings.price_notice,
    )
    set_credit_schedule(
        session,
        effective_at=since,
        levels=[("A", "1.2"), ("B", "1.1")],
        now=published,
        notice=settings.price_notice,
    )
    set_basket_bonus(
        session,
        partner_id=credentials["redrice"]["partner_id"],
        code="SNACK_DRINK",
        categories=["snacks", "drinks"],
        min_line_amount_fen=300,
        bonus_points=20,
        multiplier="1",
        effective_at=since,
        now=published,
    )
    publish_perk(
        session,
        partner_id=credentials["starcinema"]["partner_id"],
        code="POPCORN_UPGRADE",
        name="免费爆米花升级 (free popcorn upgrade)",
        tier_codes=["GOLD", "DIAMOND"],
        limit_per_period=1,
        period="WEEK",
        now=now,
    )
    publish_perk(
        session,
        partner_id=credentials["clearsight"]["partner_id"],
        code="EYE_CARE_ADVISER",
        name="专属验光顾问 (personal eye-care adviser)",
        tier_codes=["GOLD", "DIAMOND"],
        limit_per_period=1,
        period="MONTH",
        now=now,
    )
    ticket = credentials["starcinema"]["items"]["starcinema-00-0"]
    base = session.execute(
        select(CatalogItem.base_points).where(CatalogItem.id == ticket)
    ).scalar_one()
    set_member_prices(
        session,
        ticket,
        [
            PriceRowInput("GOLD", None, base * 9 // 10),
            PriceRowInput("DIAMOND", None, base * 8 // 10),
        ],
        now,
        settings.price_notice,
    )


def _onboard(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    credentials: dict[str, Any] = {}
    since = now - HISTORY_START  # terms and budgets cover the members' past purchases
    for partner in PARTNERS:
        add_partner(
            session,
            code=partner.code,
            name=partner.name,
            legal_entity=partner.legal_entity,
            now=now,
            kind="CHARITY" if partner.category == "charity" else "MERCHANT",
        )
        set_settlement_terms(
            session,
            partner_code=partner.code,
            issue_price_per_point_fen="1",
            reimbursement_per_point_fen="0.95",
            operator_fee_rate="0.03",
            cycle="MONTHLY",
            now=since,
            effective_at=since,
        )
        set_marketing_budget(
            session,
            partner_code=partner.code,
            amount_fen=50_000_000,
            period_start=since,
            period_end=now + timedelta(days=365),
            now=now,
        )
        issued = create_client(
            session, settings.secret_key, partner_code=partner.code, scopes=SCOPES, now=now
        )
        partner_id = session.execute(
            select(Partner.id).where(Partner.code == partner.code)
        ).scalar_one()
        items = _items(partner)
        green = [(item.sku, item.title) for item in items if item.green]
        if partner.code == "leafteahouse":  # its till's green line in the members' orders
            green.append(("leafteahouse-sku", "Loose-leaf tea, refill pack"))
        for sku, title in green:
            product = register_green_product(
                session,
                partner_id=partner_id,
                sku=sku,
                name=title,
                certificate_ref=f"CEL-DEMO-{sku.upper()}",
                client_id=issued.client_id,
                now=now,
            )
            decide_green_product(
                session,
                product_id=product.id,
                verified=True,
                note="demo: certificate checked",
                client_id="operator",
                now=now,
            )
        published = upsert_items(session, partner_id, items, now)
        credentials[partner.code] = {
            "partner_id": partner_id,
            "client_id": issued.client_id,
            "client_secret": issued.client_secret,
            "items": {sku: item_id for item_id, sku in published},
        }
    lens = credentials["clearsight"]["items"]["clearsight-00-0"]
    set_promotion(
        session,
        partner_id=credentials["clearsight"]["partner_id"],
        item_id=lens,
        points=1500,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=7),
        now=now,
    )
    operator = create_client(
        session, settings.secret_key, partner_code=None, scopes=["operator:admin"], now=now
    )
    credentials["operator"] = {
        "client_id": operator.client_id,
        "client_secret": operator.client_secret,
    }
    return credentials


def _registered(
    session: Session,
    settings: Settings,
    *,
    partner_id: int,
    external_ref: str,
    phone: str,
    now: datetime,
) -> int:
    """The real registration: started by the partner, confirmed with the code the person
    received (here read straight from the message the hub would send)."""
    started = start_registration(
        session,
        settings.secret_key,
        partner_id=partner_id,
        external_ref=external_ref,
        phone=phone,
        display_name=None,
        consent=True,
        now=now,
    )
    member_id = confirm_registration(
        session,
        settings.secret_key,
        partner_id=partner_id,
        request_id=started.request_id,
        code=started.notification.code,
        client_id=None,
        now=now,
    )
    assert member_id is not None
    return member_id


APP_REDIRECT_URI = "http://127.0.0.1:8765/callback"
DEMO_MEMBER_PHONE = "138 0013 8001"


def _history(
    session: Session, settings: Settings, credentials: dict[str, Any], now: datetime
) -> int:
    """Five members who shop, redeem across brands and donate."""
    people = (DEMO_MEMBER_PHONE, "139 0013 8002", "137 0013 8003", "136 0013 8004", "135 0013 8005")
    for number, phone in enumerate(people, start=1):
        member_id = 0
        partners = ("redrice", "starcinema", "leafteahouse", "clearsight", "greenfuture")
        for step, code in enumerate(partners):
            member_id = _registered(
                session,
                settings,
                partner_id=credentials[code]["partner_id"],
                external_ref=f"{code}-member-{number}",
                phone=phone,
                # Each partner registered the person on another visit: codes per phone
                # are limited (members/codes.py).
                now=now - timedelta(minutes=20 * (len(partners) - step)),
            )
        for order, (code, amount) in enumerate(
            (("redrice", 120_000), ("leafteahouse", 35_000), ("redrice", 200_000 * number))
        ):
            award(
                session,
                ledger.IdempotencyKey("demo", f"award-{number}-{order}"),
                partner_id=credentials[code]["partner_id"],
                member_id=member_id,
                order_ref=f"demo-{number}-{order}",
                paid_amount_fen=amount,
                lines=[Line(f"{code}-sku", "daily", amount, order % 2 == 1)],
                now=now - timedelta(days=30 - order),
                expires_at=now + timedelta(days=335 + order),
            )
        award(  # snacks and a drink in one order: the mart's basket bonus
            session,
            ledger.IdempotencyKey("demo", f"basket-{number}"),
            partner_id=credentials["redrice"]["partner_id"],
            member_id=member_id,
            order_ref=f"demo-{number}-basket",
            paid_amount_fen=1_500,
            lines=[
                Line("redrice-chips", "snacks", 1_000, False),
                Line("redrice-tea", "drinks", 500, False),
            ],
            now=now - timedelta(days=1),
            expires_at=now + timedelta(days=364),
        )
        redeem_item(
            session,
            ledger.IdempotencyKey("demo", f"ticket-{number}"),
            partner_id=credentials["starcinema"]["partner_id"],
            member_id=member_id,
            catalog_item_id=credentials["starcinema"]["items"]["starcinema-00-0"],
            quantity=1,
            now=now,
        )
        charity_donation(
            session,
            ledger.IdempotencyKey("demo", f"donation-{number}"),
            partner_id=credentials["greenfuture"]["partner_id"],
            member_id=member_id,
            project_item_id=credentials["greenfuture"]["items"]["greenfuture-00-0"],
            points=50,
            now=now,
        )
    return len(people)


def _refused_award(session: Session, credentials: dict[str, Any], now: datetime) -> None:
    """One award the guard refuses, so the operator's audit and the refusal metrics have
    something to show: the mart tries to give points for a prepaid card (never money, CR-05's
    vocabulary). It runs as a request would: the refused work rolls back (a savepoint here),
    then the refusal is appended to the audit."""
    mart = credentials["redrice"]
    member_id = session.scalars(select(Member.id).order_by(Member.id).limit(1)).one()
    try:
        with session.begin_nested():
            award(
                session,
                ledger.IdempotencyKey("demo", "refused-prepaid-card"),
                partner_id=mart["partner_id"],
                member_id=member_id,
                order_ref="demo-refused-prepaid-card",
                paid_amount_fen=10_000,
                lines=[Line("redrice-card", "prepaid card", 10_000, False)],
                now=now,
                expires_at=now + timedelta(days=365),
            )
    except ComplianceViolation as refused:
        record_blocked(
            session,
            client_id=mart["client_id"],
            partner_id=mart["partner_id"],
            operation="awardPoints",
            rule=refused.rule,
            summary=refused.message,
            now=now,
        )
    else:  # the demo promises a refusal: a guard that let this through is a bug
        raise RuntimeError("the demo's prepaid-card award was not refused")


def load(session: Session, settings: Settings, now: datetime) -> dict[str, Any] | None:
    """Load the demo alliance once; None when it is already there."""
    if _partners_exist(session):
        return None
    credentials = _onboard(session, settings, now)
    _programme(session, settings, credentials, now)
    ledger.lock_all_accounts(session)  # many members' operations in one transaction
    credentials["members"] = _history(session, settings, credentials, now)
    _refused_award(session, credentials, now)
    credentials["app"] = {
        "client_id": create_app_client(
            session, name="Alliance app (demo)", redirect_uris=[APP_REDIRECT_URI], now=now
        ),
        "redirect_uri": APP_REDIRECT_URI,
        # Kept with the credentials so every run prints the same sign-in link; a real app
        # makes a fresh verifier for each sign-in.
        "code_verifier": secrets.token_urlsafe(48),
    }
    return credentials


def _remember(path: Path, shown: dict[str, Any]) -> None:
    path.touch(mode=0o600)
    path.write_text(json.dumps(shown, indent=2))


def _recall(path: Path) -> dict[str, Any] | None:
    return dict(json.loads(path.read_text())) if path.exists() else None


async def run(
    database: Database, settings: Settings, now: datetime, path: Path = CREDENTIALS_FILE
) -> list[str]:
    where = path  # the CLI gives it absolute
    loaded = await database.write(load, settings, now)
    if loaded is not None:
        shown = {
            code: {"client_id": c["client_id"], "client_secret": c["client_secret"]}
            for code, c in loaded.items()
            if isinstance(c, dict) and code != "app"
        }
        shown["app"] = loaded["app"]
        _remember(path, shown)
        items = sum(
            len(c["items"]) for c in loaded.values() if isinstance(c, dict) and "items" in c
        )
        head = [
            f"demo alliance loaded: {len(PARTNERS)} partners, {items} catalogue items, "
            f"{loaded['members']} members"
        ]
    else:
        recalled = _recall(path)
        if recalled is None:
            return [
                "demo alliance already loaded; its credentials file is gone: "
                "create a client with `alliance-hub clients create`"
            ]
        # Printed once, when made; afterwards only where they are.
        shown = recalled
        lines = [
            "demo alliance already loaded",
            f"its clients' credentials are kept in {where} "
            "(jq . on it; the hub stores secrets hashed)",
        ]
    if loaded is not None:
        lines = [
            *head,
            f"credentials (shown this once; kept in {where}; the hub stores secrets hashed):",
        ]
        for code, credential in shown.items():
            if code != "app":
                lines.append(
                    f"  {code:13} client_id={credential['client_id']} "
                    f"client_secret={credential['client_secret']}"
                )
    if "app" in shown:
        app = shown["app"]
        lines += sign_in_lines(settings, app["client_id"], app["code_verifier"])
    return lines


def sign_in_lines(settings: Settings, client_id: str, verifier: str) -> list[str]:
    """How to sign in as a demo member in a browser (docs/member-app.md explains each step)."""
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": APP_REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "scope": "member:self",
            "state": "demo",
        }
    )
    return [
        f"the alliance's app: client_id={client_id} redirect_uri={APP_REDIRECT_URI}",
        f"sign in as a demo member: open {settings.issuer}/oauth/authorize?{query}",
        f"  phone {DEMO_MEMBER_PHONE}; the code arrives in {settings.notify_outbox};",
        f"  then exchange the code from the redirect with code_verifier={verifier}",
        "  (docs/member-app.md walks through it)",
    ]
