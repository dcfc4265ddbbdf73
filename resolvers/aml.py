"""The operator's AML monitoring: thresholds and cases (CR-08)."""

from __future__ import annotations

from dataclasses import dataclass

from compliance.aml import CaseView, cases_page, resolve_case, set_threshold
from core.db import utcnow
from resolvers.context import HubContext
from resolvers.ids import decode_id
from resolvers.outcome import Outcome, write
from resolvers.pagination import encode_cursor, page_request


@dataclass(frozen=True, slots=True)
class CasePage:
    edges: list[tuple[str, CaseView]]
    has_next: bool


async def cases(
    context: HubContext, first: int | None, after: str | None, status: str | None
) -> CasePage:
    page = page_request(first, after, "aml")
    before_id = page.after_int()
    rows = await context.database.read(
        cases_page, limit=page.limit, before_id=before_id, status=status
    )
    shown = rows[: page.limit]
    return CasePage([(encode_cursor("aml", [r.id]), r) for r in shown], len(rows) > page.limit)


async def threshold(
    context: HubContext, pattern: str, soft: int, hard: int
) -> Outcome[tuple[int, int]]:
    return await write(context, "setAmlThreshold", set_threshold, pattern, soft, hard, utcnow())


async def resolve(
    context: HubContext, case_gid: str, status: str, note: str | None
) -> Outcome[CaseView]:
    case_id = decode_id(case_gid, "AmlCase") or -1
    return await write(context, "resolveAmlCase", resolve_case, case_id, status, note, utcnow())
