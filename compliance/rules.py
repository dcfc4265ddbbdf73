"""The red lines as pure functions: facts in, a violation or None out.

Each rule's docstring names its ID and basis (shared/design/compliance.md).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from compliance.text import skeleton, words


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    message: str


CASH_LIKE_KINDS = frozenset({"CASH_EQUIVALENT"})
CROSS_PLATFORM_KINDS = frozenset({"EXTERNAL_POINTS", "UNIVERSAL_VOUCHER"})


def no_cash_out(kind: str) -> Violation | None:
    """CR-05 NO_CASH_OUT: points never become money, so nothing cash-like (cash, e-wallet
    credit, stored value, red packets, multi-merchant gift cards) may be published."""
    if kind in CASH_LIKE_KINDS:
        return Violation("CR-05", "points can never be exchanged for cash or cash equivalents")
    return None


def closed_alliance(kind: str) -> Violation | None:
    """CR-04 CLOSED_ALLIANCE: no cross-platform "super points"; alliance points are never
    exchanged into another programme's points or a universal voucher."""
    if kind in CROSS_PLATFORM_KINDS:
        return Violation(
            "CR-04",
            "alliance points cannot become another programme's points or a universal voucher",
        )
    return None


def catalogue_item_allowed(kind: str) -> Violation | None:
    """The rules a catalogue item must pass before it is published."""
    return no_cash_out(kind) or closed_alliance(kind)


def real_consumption(
    order_ref: str, paid_amount_fen: int, order_already_awarded: bool
) -> Violation | None:
    """CR-01 REAL_CONSUMPTION: points only for a real purchase: the partner's order
    reference, a paid amount above 0, and an order never awarded before. (The points
    themselves are computed by the hub from the partner's published rule, so they can
    never exceed what the rule gives.)"""
    if not order_ref.strip():
        return Violation("CR-01", "an award needs the partner's order reference")
    if paid_amount_fen <= 0:
        return Violation("CR-01", "an award needs a paid amount above 0")
    if order_already_awarded:
        return Violation("CR-01", "this order was already awarded")
    return None


def marketing_budget(has_budget: bool, has_price: bool, within_budget: bool) -> Violation | None:
    """CR-02 MARKETING_BUDGET: issuance is funded from the partner's marketing budget;
    points x issue price may not exceed what is left of the current budget period."""
    if not has_budget:
        return Violation("CR-02", "the partner has no marketing budget for this period")
    if not has_price:
        return Violation("CR-02", "the partner has no issue price in its settlement terms")
    if not within_budget:
        return Violation("CR-02", "this award would exceed the partner's marketing budget")
    return None


def identified_member(known: bool, status: str | None, identity_attested: bool) -> Violation | None:
    """CR-03 IDENTIFIED_MEMBER: points go only to a registered, identity-attested, active
    member; no bearer codes, anonymous holders or airdrops. ``known`` is whether the id
    names a member registered with the calling partner: an unknown id and another
    partner's member get the same answer, so ids cannot be probed."""
    if not known:
        return Violation("CR-03", "no identified member with this id is registered with you")
    if status != "ACTIVE":
        return Violation("CR-03", "the member is not active")
    if not identity_attested:
        return Violation("CR-03", "the member's identity is not attested")
    return None


def consent_given(consent: bool) -> Violation | None:
    """CR-10 CONSENT_AND_MINIMISATION: a partner registers and sees a member only with the
    member's consent to that partner."""
    if not consent:
        return Violation("CR-10", "registration needs the member's consent to this partner")
    return None


def member_visible(consented: bool) -> Violation | None:
    """CR-10 CONSENT_AND_MINIMISATION: a partner reads a member's data only while the
    member's consent to that partner stands (an unknown id reads the same)."""
    if not consented:
        return Violation("CR-10", "this member has not consented to share their data with you")
    return None


def sensitive_attribute(credit_level_consent: bool) -> Violation | None:
    """CR-10 CONSENT_AND_MINIMISATION: sensitive attributes (the credit level) need their
    own consent, separate from the consent to the partnership."""
    if not credit_level_consent:
        return Violation("CR-10", "the credit level needs the member's separate consent")
    return None


def active_partner(status: str) -> Violation | None:
    """CR-04 CLOSED_ALLIANCE: points are issued by and redeemed at active partners of this
    alliance only; a suspended partner neither issues nor honours points."""
    if status != "ACTIVE":
        return Violation("CR-04", "a suspended partner can neither issue nor redeem points")
    return None


POINTS_PURCHASE_CATEGORIES = frozenset({"points", "points-top-up", "top-up", "stored-value"})
_JOINED_PURCHASE_CATEGORIES = frozenset(c.replace("-", "") for c in POINTS_PURCHASE_CATEGORIES)
_PURCHASE_SKELETONS = frozenset(skeleton(c).letters for c in POINTS_PURCHASE_CATEGORIES)


def no_points_purchase(categories: Iterable[str]) -> Violation | None:
    """CR-07 NO_FINANCIAL_ATTRIBUTES: members cannot buy points; an order line that sells
    points, a top-up or stored value earns nothing and is refused. ``categories`` are read
    as every rule reads text (compliance.text.words), joined or not, and as their skeleton
    (compliance.text.skeleton: ``p0ints``, ``t0p_up``); this fixed floor holds whatever the
    operator's vocabulary says."""
    if any(
        words(c).replace(" ", "") in _JOINED_PURCHASE_CATEGORIES
        or skeleton(c).letters in _PURCHASE_SKELETONS
        for c in categories
    ):
        return Violation("CR-07", "members cannot buy points: a top-up earns no points")
    return None


def no_retroactive_change(effective_at: datetime, now: datetime) -> Violation | None:
    """CR-07 NO_FINANCIAL_ATTRIBUTES: changes to earning rates, prices and exchange ratios
    carry an effective time in the future and never apply retroactively."""
    if effective_at <= now:
        return Violation("CR-07", "a rate change must take effect in the future")
    return None


def cut_needs_notice(
    what: str, effective_at: datetime, now: datetime, notice: timedelta
) -> Violation | None:
    """CR-07 NO_FINANCIAL_ATTRIBUTES: a change that lowers what members earn (a lower rate,
    multiplier or bonus, or one withdrawn) is published the operator's notice period ahead,
    as a catalogue price increase is; a change in the members' favour may apply at once."""
    if effective_at < now + notice:
        days = notice.total_seconds() / 86_400
        period = f"{days:g} days" if days != 1 else "1 day"
        return Violation(
            "CR-07",
            f"{what} lowers what members earn: it takes effect at the earliest after the "
            f"operator's notice period of {period}, from {(now + notice).isoformat()}",
        )
    return None


def promotion_integrity(
    *,
    points: int,
    base_points: int,
    starts_at: datetime | None,
    ends_at: datetime | None,
    running_points: int | None,
    overlaps_running: bool,
) -> Violation | None:
    """CR-09 PROMOTION_INTEGRITY: a time-limited price needs a start, an end, and a base
    price it improves on; while one runs it may only get better for members."""
    if starts_at is None or ends_at is None:
        return Violation("CR-09", "a promotion needs both a start and an end")
    if ends_at <= starts_at:
        return Violation("CR-09", "a promotion needs an end after its start")
    if points >= base_points:
        return Violation("CR-09", "a promotion must cost fewer points than the base price")
    if running_points is not None and overlaps_running and points > running_points:
        return Violation("CR-09", "a running promotion may not be made worse for members")
    return None


def aml_limit(pattern: str, observed: int, hard: int) -> Violation | None:
    """CR-08 AML_MONITORING: over an operator-set hard limit the operation is refused.
    (Over the soft limit it goes through and a case opens for review.)"""
    if observed > hard:
        return Violation("CR-08", f"{pattern} would reach {observed}, over the limit of {hard}")
    return None


def compensation_within_cap(points: int, restored: int, cap_percent: int) -> Violation | None:
    """CR-12 REFUND_IN_KIND: compensation with a refund is capped by the operator's policy
    for the compensating partner, in percent of the points the refund restores (by
    default 100: at most the points refunded)."""
    cap = restored * cap_percent // 100
    if points > cap:
        return Violation(
            "CR-12",
            f"compensation is capped at {cap} points for this refund ({cap_percent} % of the "
            f"{restored} points refunded)",
        )
    return None


def registered_charity(partner_kind: str) -> Violation | None:
    """CR-06 NO_MEMBER_TRANSFER: the one way points leave a member for someone else is a
    donation to a registered charity, so only a partner the operator registered as a
    CHARITY publishes charity projects or receives donations."""
    if partner_kind != "CHARITY":
        return Violation("CR-06", "only a registered charity partner takes donations")
    return None


# CR-13: what a restriction of time slots or dates reads as (docs/compliance.md). Text is
# read as every rule reads it (compliance.text.words: NFKC, case-folded, punctuation a
# word break). A restriction is a day or time word with a restriction word at most one
# word away ("weekends excluded", "matinee screenings only", "not valid on weekends",
# "before 5 pm only"), a range of days short of the whole week ("Mon-Thu", "Monday to
# Friday", 周一至周四), or an off-peak phrase. A day or time word alone names a product
# ("Weekend brunch set", "Monday Mocha", "Matinee Idol DVD") and passes.
_DAY_WORDS = frozenset(
    {
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "mondays",
        "tuesdays",
        "wednesdays",
        "thursdays",
        "fridays",
        "saturdays",
        "sundays",
        "weekday",
        "weekdays",
        "weekend",
        "weekends",
        "weeknight",
        "weeknights",
        "holiday",
        "holidays",
        "morning",
        "mornings",
        "afternoon",
        "afternoons",
        "evening",
        "evenings",
        "night",
        "nights",
        "daytime",
        "matinee",
        "matinees",
        "noon",
        "midday",
        "midnight",
        "lunchtime",
        "peak",
        "pm",
        "am",
    }
)
# Short forms are day words only next to a restriction word or another day.
_DAY_ABBREVIATIONS = ("mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun")
_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RESTRICTION_WORDS = frozenset(
    {
        "only",
        "excluded",
        "excluding",
        "exclude",
        "excludes",
        "excepted",
        "except",
        "excl",
        "before",
        "after",
        "until",
        "till",
        "restricted",
        "restriction",
        "restrictions",
        "blackout",
        "unavailable",
        "invalid",
        "valid",
        "usable",
        "redeemable",
        "applicable",
    }
)
# Restriction words that count only right before the day ("no weekends", "not Sundays").
_BEFORE_ONLY = frozenset({"no", "not"})
_RANGE_WORDS = frozenset({"to", "through", "thru", "till", "until", "and"})
_TIME = re.compile(r"^\d{1,2}(am|pm|h)$")
_OFF_PEAK = (" off peak ", " offpeak ", " non peak ", " nonpeak ", " quiet hours ")
# Words that restrict by themselves: a plural of days ("Cinema ticket (weekdays)"), working
# or business days, anything "non-holiday" or "non-weekend".
_RESTRICTING = (
    " weekdays ",
    " weekends ",
    " weeknights ",
    " midweek ",
    " working day",
    " work day",
    " workday",
    " business day",
    " school day",
    " non holiday",
    " nonholiday",
    " non weekend",
    " nonweekend",
    " non public holiday",
    " mondays ",
    " tuesdays ",
    " wednesdays ",
    " thursdays ",
    " fridays ",
    " saturdays ",
    " sundays ",
)
# A day or time word naming the screenings, shows or sessions a ticket is good for
# ("weekday screenings", "morning sessions", "daytime shows"; one "show" names a programme:
# "Late night show DVD").
_SESSIONS = frozenset({"screening", "screenings", "shows", "session", "sessions", "showings"})
# Short day forms that only make sense in a range ("M-Th", "Tu-Fr"): two in a row, at least
# one of two letters, name a range of days ("M-F" alone is left: it also reads male/female).
_SHORT_DAYS = {
    "m": "mon",
    "mo": "mon",
    "tu": "tue",
    "w": "wed",
    "we": "wed",
    "th": "thu",
    "f": "fri",
    "fr": "fri",
    "sa": "sat",
    "su": "sun",
}
# A range of clock times in any language, as compliance.text.words reads it ("10 00 16 00",
# "10am 4pm", "10点至16点"): each end a time (minutes or am/pm/h/点/时), or a bare hour before
# an am/pm one ("10-4pm"). A range over the whole day (00:00-24:00, 12am-11:59pm) restricts
# nothing.
_CLOCK = r"(\d{1,2})(?: ([0-5]\d))?(?: ?(am|pm|h|点|时))?"
_TIME_RANGE = re.compile(rf"(?<!\d){_CLOCK} ?(?:to|till|until|through|thru|至|到)? ?{_CLOCK}(?!\d)")
_CJK_DAY = (
    r"(?:周|星期|礼拜)[一二三四五六日天末1-7]|工作日|平日|节假日|假日|节日|假期|高峰|闲时"
    r"|早场|午场|晚场|夜场|白天|上午|下午|晚上|早上|中午|凌晨|\d+点|时段"
)
_CJK_RESTRICTION = (
    r"仅|只限|只能|只在|(?<![不有无])限(?![量购额时定])|除外|不可|不能|不适用|无效|禁用"
    r"|(?<![均皆也都])可用|(?<![均皆也都])可使用|(?<![均皆也都])适用|(?<![均皆也都])有效"
    r"|专享|专用|专属|特供"
)
_CJK_NEAR = re.compile(
    rf"(?:{_CJK_DAY}).{{0,4}}?(?:{_CJK_RESTRICTION})|(?:{_CJK_RESTRICTION}).{{0,4}}?(?:{_CJK_DAY})"
)
_CJK_RANGE = re.compile(
    r"(?:周|星期|礼拜)([一二三四五六日天1-7])(?:至|到|~|-|\u2014|\u2013| )?(?:周|星期|礼拜)?"
    r"([一二三四五六日天1-7])"
)
_CJK_DIGIT_DAY = str.maketrans("1234567天", "一二三四五六日日")
# Restrictions by themselves: working days, non-holidays, non-weekends (平日 alone also
# means "usually", so it needs a restriction word).
_CJK_OFF_PEAK = ("非高峰", "错峰", "闲时", "工作日", "非节假日", "非假日", "非节日", "非周末")


def _day(token: str) -> str | None:
    """The day a token names, as its first three letters, if it names one."""
    for day in _WEEK:
        if token.startswith(day) and (
            token in _DAY_ABBREVIATIONS or token in _DAY_WORDS or token.rstrip("s") in _DAY_WORDS
        ):
            return day
    return None


def _minutes(hour: str, minute: str | None, suffix: str | None) -> int | None:
    """Minutes after midnight of one end of a time range, None when it is no time."""
    hours = int(hour)
    if suffix in ("am", "pm"):
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if suffix == "pm" else 0)
    elif hours > 24:
        return None
    return hours * 60 + int(minute or 0)


def _time_range(text: str) -> bool:
    """Whether ``text`` (as ``words`` reads it) names a range of clock times short of the
    whole day."""
    for found in _TIME_RANGE.finditer(text):
        hour1, minute1, suffix1, hour2, minute2, suffix2 = found.groups()
        timed1, timed2 = bool(minute1 or suffix1), bool(minute2 or suffix2)
        if not ((timed1 and timed2) or suffix2 in ("am", "pm")):
            continue
        if suffix1 is None and suffix2 in ("am", "pm"):
            suffix1 = suffix2
        start = _minutes(hour1, minute1, suffix1)
        end = _minutes(hour2, minute2, suffix2)
        if start is None or end is None:
            continue
        if start == 0 and end in (0, 23 * 60 + 59, 24 * 60):
            continue  # the whole day
        return True
    return False


def _english_restriction(text: str) -> bool:
    padded = f" {text} "
    if any(phrase in padded for phrase in _OFF_PEAK + _RESTRICTING):
        return True
    tokens = text.split()
    for one, two in itertools.pairwise(tokens):
        if (
            one in _SHORT_DAYS
            and two in _SHORT_DAYS
            and max(len(one), len(two)) == 2
            and _SHORT_DAYS[one] != _SHORT_DAYS[two]
            and (_SHORT_DAYS[one], _SHORT_DAYS[two]) != ("mon", "sun")
        ):
            return True
    for word, after in itertools.pairwise(tokens):
        if word in _DAY_WORDS and word not in ("am", "pm", "peak") and after in _SESSIONS:
            return True
    days = [token in _DAY_WORDS or bool(_TIME.match(token)) for token in tokens]
    restricting = [token in _RESTRICTION_WORDS for token in tokens]
    for index, token in enumerate(tokens):
        after = tokens[index + 1] if index + 1 < len(tokens) else ""
        before = tokens[index - 1] if index > 0 else ""
        if token in _DAY_ABBREVIATIONS:
            # "Sat only", "(Mon-Thu only)": right next to a restriction word or a day.
            days[index] = any(
                word in _RESTRICTION_WORDS or word in _DAY_ABBREVIATIONS for word in (before, after)
            )
        elif token.isdigit() and len(token) <= 2 and after in ("00", "15", "30", "45"):
            days[index] = True  # 17:00
    for index, token in enumerate(tokens):
        # The whole week ("Monday to Sunday", "Mon-Sun") restricts nothing.
        if _day(token) == "mon":
            for step in (1, 2):
                if index + step < len(tokens) and _day(tokens[index + step]) == "sun":
                    for k in range(index, index + step + 1):
                        days[k] = False
    for index, is_day in enumerate(days):
        if not is_day:
            continue
        if any(restricting[k] for k in range(max(0, index - 2), min(len(tokens), index + 3))):
            return True
        if index > 0 and tokens[index - 1] in _BEFORE_ONLY:
            return True
    # A range of days short of the whole week: "mon thu", "monday to friday".
    for index, token in enumerate(tokens):
        first = _day(token)
        if first is None:
            continue
        for step in (1, 2):
            if index + step >= len(tokens):
                break
            if step == 2 and tokens[index + 1] not in _RANGE_WORDS:
                break
            last = _day(tokens[index + step])
            if (
                last is not None
                and (first, last) != ("mon", "sun")
                and (step == 1 or tokens[index + 1] != "and")
            ):
                return True
    return False


def _chinese_restriction(text: str) -> bool:
    if any(phrase in text for phrase in _CJK_OFF_PEAK):
        return True
    for found in _CJK_RANGE.finditer(text):
        first, last = (day.translate(_CJK_DIGIT_DAY) for day in found.groups())
        if (first, last) != ("一", "日"):
            return True
    return bool(_CJK_NEAR.search(text))


def restricts_time_slots(text: str) -> bool:
    """Whether ``text`` (a title or category) restricts the time slots or dates it may be
    used in (CR-13; see above for how it reads)."""
    read = words(text)
    return _english_restriction(read) or _chinese_restriction(read) or _time_range(read)


def equal_service(texts: Iterable[str], same_slots_as_paid: bool) -> Violation | None:
    """CR-13 EQUAL_SERVICE: anything redeemed with points has the same standing as when
    paid for: the same time slots and dates. An item whose terms restrict points
    redemptions beyond what paying customers get (declared, or in its title or category)
    is refused, whatever its kind."""
    if not same_slots_as_paid or any(restricts_time_slots(text) for text in texts):
        return Violation(
            "CR-13",
            "an item redeemed with points must be usable in the same time slots and dates as "
            "a paid one",
        )
    return None
