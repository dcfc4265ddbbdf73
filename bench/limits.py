"""Worst-case validation time against validating a plain catalogue query.

Each document goes through what the hub does before executing anything: parsing under the
token limit, the request limits (schema.limits: size, depth, aliases, cost, entities) and,
if those pass, graphql-core's validation, uncached. The families are the hostile ones:

- fan-out: fragments that each spread the next twice (2^N fields once expanded);
- deep nesting: a chain of nested fields as deep as the token limit allows;
- alias floods: as many aliases as the token limit allows, on a root field and nested;
- the same field repeated, and one fragment spread many times (field-merging checks).

    python bench/limits.py [--rounds 5]

Prints the median time of each (parsing apart: it is linear in the text, bounded by the
token limit, and the same for any GraphQL server), its ratio to the catalogue query, and
ends with ``RESULT limits_<family>_vs_catalog <ratio>`` lines (limits and validation),
``RESULT limits_worst_vs_catalog`` and ``RESULT limits_worst_with_parsing_vs_catalog``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/graphql.py and bench/ledger.py share names with the graphql library and the
# ledger package: never let this folder shadow them.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse
import statistics
import time
from collections.abc import Callable

from graphql import GraphQLError, parse, specified_rules, validate

from schema.limits import MAX_TOKENS, limit_errors
from schema.root import build_schema

SCHEMA = build_schema()._schema

CATALOG = """{ catalog(first: 100) { edges { cursor node { id sku title points
    partner { code name } } } pageInfo { hasNextPage endCursor } } }"""


def fan_out(levels: int) -> str:
    spreads = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    return f"{{ ...F0 }} {spreads} fragment F{levels} on Query {{ apiVersion }}"


def deep(levels: int) -> str:
    step = "catalog { edges { node { partner { "
    return "{ partners { edges { node { " + step * levels + "code" + " }" * (3 + 4 * levels + 1)


def aliases_at_root(count: int) -> str:
    return "{ " + " ".join(f"a{i}: apiVersion" for i in range(count)) + " }"


def aliases_nested(count: int) -> str:
    inner = " ".join(f"a{i}: code" for i in range(count))
    return "{ partners(first: 1) { edges { node { " + inner + " } } } }"


def same_field(count: int) -> str:
    return "{ " + " ".join("apiVersion" for _ in range(count)) + " }"


def one_fragment_spread(count: int) -> str:
    return "{ " + " ".join("...A" for _ in range(count)) + " } fragment A on Query { apiVersion }"


def fitting(build: Callable[[int], str], start: int) -> str:
    """The largest document of a family that still parses under the token limit."""
    size, best = start, build(start)
    while True:
        candidate = build(size * 2)
        try:
            parse(candidate, max_tokens=MAX_TOKENS)
        except GraphQLError:
            break
        size, best = size * 2, candidate
    low, high = size, size * 2
    while high - low > 1:
        middle = (low + high) // 2
        try:
            parse(build(middle), max_tokens=MAX_TOKENS)
            low, best = middle, build(middle)
        except GraphQLError:
            high = middle
    return best


def check(query: str) -> tuple[float, float, str]:
    """Parse, then the limits and validation: the seconds of each and the outcome (the
    first error's code, ``invalid``, or ``ok``)."""
    started = time.perf_counter()
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return time.perf_counter() - started, 0.0, "parse"
    parsed = time.perf_counter()
    errors = limit_errors(SCHEMA, document, None, {})
    if errors:
        outcome = str((errors[0].extensions or {}).get("code"))
    else:
        outcome = "invalid" if validate(SCHEMA, document, specified_rules) else "ok"
    return parsed - started, time.perf_counter() - parsed, outcome


def timed(query: str, rounds: int) -> tuple[float, float, str]:
    """Median seconds parsing and validating, after one warm-up run."""
    _, _, outcome = check(query)
    runs = [check(query) for _ in range(rounds)]
    return (
        statistics.median(run[0] for run in runs),
        statistics.median(run[1] for run in runs),
        outcome,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    families = {
        "fanout_2_10": fan_out(10),
        "fanout_2_20": fan_out(20),
        "fanout_2_40": fan_out(40),
        "fanout_max": fitting(fan_out, 40),
        "deep": fitting(deep, 2),
        "aliases_root": fitting(aliases_at_root, 16),
        "aliases_nested": fitting(aliases_nested, 16),
        "same_field": fitting(same_field, 16),
        "one_fragment_spread": fitting(one_fragment_spread, 16),
    }
    base_parse, base_check, outcome = timed(CATALOG, args.rounds * 20)
    print(
        f"catalog query: parse {base_parse * 1000:.3f} ms, limits and validation "
        f"{base_check * 1000:.3f} ms ({outcome})"
    )
    ratios, whole = {}, {}
    for name, query in families.items():
        parsing, checking, outcome = timed(query, args.rounds)
        ratios[name] = checking / base_check
        whole[name] = (parsing + checking) / (base_parse + base_check)
        print(
            f"{name}: {len(query)} characters, parse {parsing * 1000:.3f} ms, limits and "
            f"validation {checking * 1000:.3f} ms ({outcome}): {ratios[name]:.2f}x the "
            f"catalogue query's validation, {whole[name]:.2f}x with parsing"
        )
    for name, ratio in ratios.items():
        print(f"RESULT limits_{name}_vs_catalog {ratio:.2f}")
    print(f"RESULT limits_worst_vs_catalog {max(ratios.values()):.2f}")
    print(f"RESULT limits_worst_with_parsing_vs_catalog {max(whole.values()):.2f}")


if __name__ == "__main__":
    main()
