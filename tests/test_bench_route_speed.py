"""The route-speed benchmark runs end to end on one query (a benchmark is not a timed test: this only
checks it still works, since it is run by hand and a broken one is found too late)."""

from __future__ import annotations

from bench.route_speed import FLOOR, FLOOR_TOKENS, MERGED, VARIANTS, run, summarise, table, tool_call_queries


def test_the_benchmark_measures_the_floor_and_every_variant_on_one_query():
    series = run(tool_call_queries(1), repeats=1, threads=1, warmup=0, others=[])
    assert set(VARIANTS) | {FLOOR, MERGED} <= set(series)
    assert not any(s.errors for s in series.values())
    floor = series[FLOOR].samples
    assert len(floor) == 1 and floor[0].sampled == FLOOR_TOKENS
    rendered = table(summarise(series))
    assert all(name in rendered for name in VARIANTS)
