"""A fourth outside attack on the vocabulary, replayed through GraphQL: a term that reads as
no letter stopped the whole alliance; honest shop words were refused; Unicode and structure
tricks got past. Each refusal carries its rule, leaves the ledger untouched and writes one
audit row; each honest neighbour is published and awarded."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from compliance.models import VocabularyTerm
from compliance.vocabulary import DEFAULT_HONEST_PHRASES
from core.db import utcnow
from tests.hub.conftest import Hub
from tests.hub.test_compliance_table import PUBLISH_ONE, Alliance, _allowed, _blocked
from tests.hub.test_graphql_members import _gql
from tests.hub.test_money_paths import _item, _order, _publish

TERM = """mutation($term: String!, $rule: VocabularyRule) {
  setVocabularyTerm(input: {term: $term, rule: $rule}) {
    term { term rule } userErrors { code field } } }"""
pytestmark = pytest.mark.anyio

PHRASE = """mutation($phrase: String!, $keep: Boolean) {
  setHonestPhrase(input: {phrase: $phrase, keep: $keep}) {
    phrase { phrase } userErrors { code field } } }"""
PHRASES = """query($after: String) {
  complianceHonestPhrases(first: 100, after: $after) {
    edges { node { phrase updatedAt } } pageInfo { hasNextPage endCursor } } }"""


async def test_a_term_that_reads_as_no_letter_is_refused_and_never_matches(hub: Hub) -> None:
    """Section C: ¥, - or ★ as a term would be found in every text and stop every item,
    award and redemption. The operator gets a typed error; one stored before is ignored.
    🧧 reads as 红包 (the guard reads the emoji as the red packet it shows), so it is a term
    like 红包."""
    alliance = await Alliance(hub).setup()

    refused = [
        await _gql(hub, TERM, alliance.operator, term=term, rule="CR_05")
        for term in ("\u00a5", "-", "\u2605", "100", "\u200b")
    ]
    emoji = await _gql(hub, TERM, alliance.operator, term="\U0001f9e7", rule="CR_05")

    def stored_before_the_fix(session: Session) -> None:
        for term in ("\u00a5", "-", "\u2605"):
            session.add(VocabularyTerm(term=term, rule="CR-05", updated_at=utcnow()))

    await hub.database.write(stored_before_the_fix)
    await _allowed(alliance, _publish(alliance, "Lens cloth \u00a510 - \u2605 free", sku="cloth"))
    await _allowed(alliance, alliance.award(**_order("food-home", "after-symbol-terms")))
    await _blocked(alliance, "CR-05", _publish(alliance, "微信红包 100元", sku="packet"))

    for body in refused:
        assert body["data"]["setVocabularyTerm"]["term"] is None
        assert body["data"]["setVocabularyTerm"]["userErrors"] == [
            {"code": "BAD_USER_INPUT", "field": ["term"]}
        ]
    assert emoji["data"]["setVocabularyTerm"]["userErrors"] == []


# Section A and B: each bent spelling or missing term, with its rule and an honest neighbour.
BENT = [
    ("\U0001f1e8\u200c\U0001f1e6\u200c\U0001f1f8\u200c\U0001f1ed 100", "CR-05", "红枣 2 包"),
    ("\U0001f172\U0001f170\U0001f182\U0001f177", "CR-05", "\U0001f17f parking"),
    ("\U0001f15f\U0001f15e\U0001f158\U0001f15d\U0001f163\U0001f162", "CR-07", "pointe shoes"),
    ("\u03f9ASH", "CR-05", "Cashew nuts"),  # lunate sigma: the fold-order bug
    ("gift \u03f2ard", "CR-05", "gift box"),
    ("\u0188a\u0282h", "CR-05", "\u0188afe latte"),  # Latin letters with hooks
    ("\u1d7doints", "CR-07", "\u1d7dointe shoes"),
    ("\u023c\u2c65\ua7a9\u0127", "CR-05", "\u0127ot tea"),
    ("gift \u202edrac\u202c 100", "CR-05", "gift \u202exob\u202c 100"),  # partial override
    ("\u793c\u202e\u5361\u54c1\u202c", "CR-05", "\u793c\u202e\u76d2\u54c1\u202c"),
    ("gift \u2067\u202edrac\u202c\u2069 100", "CR-05", "gift \u2067\u202exob\u202c\u2069 100"),
    ("\u200fcard\u200f \u200fgift", "CR-05", "\u200fcard\u200f \u200fgreeting"),
    ("\u061c\u5305\u061c\u7ea2", "CR-05", "\u061c\u5305\u061c\u9762"),  # ALM: 红包 / 面包
    ("\u7ea2\u20dd\u20dd\u20dd\u20dd\u5305", "CR-05", "\u7ea2\u20dd\u20dd\u20dd\u20dd\u67a3"),
    ("\u79ef\u20e3\u20e3\u20e3\u20e3\u5206", "CR-07", "\u79ef\u20e3\u6728"),
    ("p\u0d02ints", "CR-07", "p\u0d02nd lilies"),  # Malayalam anusvara
    ("c\u237ash", "CR-05", "c\u237ashew"),  # APL alpha
    ("\u2374oints", "CR-07", "\u2374ointe shoes"),
    (
        "\u30ae\u30d5\u30c8\u30fb\u30ab\u30fc\u30c9",
        "CR-05",
        "\u30ae\u30d5\u30c8\u30fb\u30dc\u30c3\u30af\u30b9",
    ),
    ("\u30ae\u30d5\u30c8\u30ab-\u30c9", "CR-05", "\u30ae\u30d5\u30c8-\u30dc\u30c3\u30af\u30b9"),
    ("caash", "CR-05", "caashew"),
    ("pooints", "CR-07", "poodle toy"),
    ("ca$$h", "CR-05", "$$ off coffee"),
    ("&#32418;&#21253;", "CR-05", "&#32418;&#26531;"),  # 红包 / 红枣
    ("%E7%BA%A2%E5%8C%85", "CR-05", "100% cotton"),
    ("gift%20card", "CR-05", "gift%20box"),
    ("BUYGIFTCARD", "CR-05", "BUYGIFTBOX"),
    ("cashout", "CR-05", "cashew"),
    ("\U0001f9e7 \u00a5100", "CR-05", "\U0001f3ab \u00a5100"),  # 🧧 / 🎫
    ("购物卷", "CR-05", "购物袋"),
    ("点卷", "CR-07", "点心"),
    ("压岁钱 100元", "CR-05", "压岁 红枣"),
    ("京东E卡", "CR-05", "京东 水杯"),
    ("gift certificate", "CR-05", "gift box"),
    ("기프트카드", "CR-05", "기프트박스"),
    ("京豆 1000", "CR-07", "京剧 门票"),
]


async def test_a_fourth_attacks_spellings_are_refused_with_their_rule(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()

    for index, (text, rule, neighbour) in enumerate(BENT):
        await _blocked(alliance, rule, _publish(alliance, text, sku=f"t{index}"))
        await _blocked(alliance, rule, _publish(alliance, "Card", category=text, sku=f"c{index}"))
        await _blocked(alliance, rule, alliance.award(**_order(text, f"b{index}")))
        await _allowed(alliance, _publish(alliance, neighbour, category=neighbour, sku=f"n{index}"))
        await _allowed(alliance, alliance.award(**_order(neighbour, f"a{index}")))


# Section D: what a real cinema, optician, store, restaurant or charity writes, next to the
# cash or points offer it must not hide.
HONEST = [
    ("微积分教材", "积分教材 1000", "CR-07"),
    ("外套现货", "套现 服务", "CR-05"),
    ("红包装礼盒", "红包 礼盒", "CR-05"),
    ("大红包装 春联", "大红包 春联", "CR-05"),
    ("呈现金黄色泽的烤鸭", "现金 烤鸭券", "CR-05"),
    ("体现金属质感的手表", "现金 手表", "CR-05"),
    ("补充值得信赖的营养", "充值得好礼", "CR-07"),
    ("往返现场接送", "返现 接送", "CR-05"),
    ("顺利是福 摆件", "利是 摆件", "CR-05"),
    ("说话费劲", "话费 50元", "CR-05"),
    ("口红 2 包", "红 2 包 100元", "CR-05"),
    ("篮球积分赛门票", "篮球积分 门票", "CR-07"),
    ("景点券", "点券 100", "CR-07"),
    ("体积 分装瓶", "积分 装瓶", "CR-07"),
    ("PowerPoint's guide", "PowerPoints guide", "CR-07"),
    ("Match point's edge", "Match points edge", "CR-07"),
    ("Johnny Cash vinyl", "Johnny Cash vinyl + 100 cash", "CR-05"),
    ("gift card holder", "gift card 100元", "CR-05"),
    ("Recharge cable", "Recharge card", "CR-07"),
    ("Four Points by Sheraton night", "Four Points night", "CR-07"),
    ("Pressure points massage", "1000 points massage", "CR-07"),
]


async def test_honest_words_pass_next_to_the_offer_they_resemble(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()

    for index, (honest, offer, rule) in enumerate(HONEST):
        await _allowed(alliance, _publish(alliance, honest, category=honest, sku=f"h{index}"))
        await _allowed(alliance, alliance.award(**_order(honest, f"h{index}")))
        await _blocked(alliance, rule, _publish(alliance, offer, sku=f"o{index}"))


async def test_the_operator_keeps_honest_phrases(hub: Hub) -> None:
    """The seeded honest phrases are listed; the operator adds one (audited, one row) and the
    honest title passes while the term stays refused elsewhere; a phrase that reads as a term
    or as no letter, or longer than 64 characters, is refused; a partner may not edit them;
    removing it refuses again."""
    alliance = await Alliance(hub).setup()
    listed: list[str] = []
    after = None
    while True:
        page = (await _gql(hub, PHRASES, alliance.store, after=after))["data"][
            "complianceHonestPhrases"
        ]
        listed += [e["node"]["phrase"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    await _blocked(alliance, "CR-07", _publish(alliance, "Re:Load backpack", sku="bag"))

    by_partner = await _gql(hub, PHRASE, alliance.store, phrase="re:load backpack")
    before = await alliance.state()
    added = await _gql(hub, PHRASE, alliance.operator, phrase=" Re:Load  Backpack ")
    audited = (await alliance.state())[3] - before[3]
    await _allowed(alliance, _publish(alliance, "Re:Load backpack", sku="bag"))
    await _blocked(alliance, "CR-07", _publish(alliance, "Re:Load backpack reload card", sku="b2"))
    as_term = await _gql(hub, PHRASE, alliance.operator, phrase="Re-Load")
    inside_term = await _gql(hub, PHRASE, alliance.operator, phrase="红")
    no_letter = await _gql(hub, PHRASE, alliance.operator, phrase="\U0001f9e7")
    too_long = await _gql(hub, PHRASE, alliance.operator, phrase="礼盒" * 33)
    removed = await _gql(hub, PHRASE, alliance.operator, phrase="re:load backpack", keep=False)
    await _blocked(alliance, "CR-07", _publish(alliance, "Re:Load backpack", sku="bag"))

    assert set(DEFAULT_HONEST_PHRASES) <= set(listed)
    assert by_partner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert added["data"]["setHonestPhrase"] == {
        "phrase": {"phrase": "re:load backpack"},
        "userErrors": [],
    }
    assert audited == 1
    for body in (as_term, inside_term, no_letter, too_long):
        assert body["data"]["setHonestPhrase"] == {
            "phrase": None,
            "userErrors": [{"code": "BAD_USER_INPUT", "field": ["phrase"]}],
        }
    assert removed["data"]["setHonestPhrase"] == {"phrase": None, "userErrors": []}


async def test_a_term_split_across_fields_or_hidden_in_a_sku_is_refused(hub: Hub) -> None:
    """Section A #17 and G: title and category are read together, and the sku is read too,
    on a catalogue item and on an order line."""
    alliance = await Alliance(hub).setup()

    def publish(sku: str, title: str, category: str) -> Any:
        async def run() -> dict:
            body = await _gql(hub, PUBLISH_ONE, alliance.store, items=[_item(sku, title, category)])
            return dict(body["data"]["upsertCatalogItems"])

        return run

    def line(sku: str, category: str, key: str) -> Any:
        return alliance.award(
            key=key,
            order=key,
            paidAmountFen=1_000,
            lines=[{"sku": sku, "category": category, "amountFen": 1_000}],
        )

    await _blocked(alliance, "CR-05", publish("s1", "WeChat red", "packet"))
    await _blocked(alliance, "CR-05", publish("s2", "礼品", "卡"))
    await _allowed(alliance, publish("s3", "WeChat red", "mugs"))
    await _blocked(alliance, "CR-05", publish("prepaid-card-500", "Gift", "gifts"))
    await _allowed(alliance, publish("prep-500", "Gift", "gifts"))
    await _blocked(alliance, "CR-05", line("prepaid-card-500", "gifts", "sku1"))
    await _allowed(alliance, line("prep-500", "gifts", "sku2"))
