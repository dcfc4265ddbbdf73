"""Per-request loaders share one future per key among the fields that ask for it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from resolvers.loaders import BatchLoader

pytestmark = pytest.mark.anyio


class _SlowDatabase:
    async def read(self, fetch: Any, keys: list[int]) -> Mapping[int, str]:
        await asyncio.sleep(0.01)
        return fetch(None, keys)  # type: ignore[no-any-return]


def _names(session: object, keys: Sequence[int]) -> dict[int, str]:
    return {key: f"member {key}" for key in keys}


async def test_cancelling_one_caller_leaves_the_shared_load_to_the_others() -> None:
    loader: BatchLoader[int, str] = BatchLoader(_SlowDatabase(), _names)  # type: ignore[arg-type]
    first = asyncio.ensure_future(loader.load(7))
    second = asyncio.ensure_future(loader.load(7))
    await asyncio.sleep(0)

    first.cancel()

    assert await second == "member 7"
    assert first.cancelled()
    assert await loader.load(7) == "member 7"  # the cached load is intact
