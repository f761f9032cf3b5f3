"""The code-latency and loop-lag benchmarks at a tiny size: the real bot process follows a few seeded orders at
each fake upstream, every SMS that arrives reaches its chat as a code message, and the figures are printed.
Timings are the benchmarks' business; this checks only that they measure what they say."""

from __future__ import annotations

import math

import pytest

from bench.arrivals import Scenario, percentile, run
from bench.code_latency import report_latency
from bench.loop_lag import lag_figures


@pytest.mark.parametrize("upstream", ["smsactivate", "smscode"])
async def test_every_code_arrives_and_the_figures_are_printed(
    upstream: str, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = Scenario(upstream, orders=10, sms=3, window=1.0, interval=1.0, max_age=60.0, patience=30.0)
    outcome = await run(scenario)

    assert outcome.tracebacks == 0
    assert outcome.delivered == len(outcome.codes) == 3
    assert len({c.order.order_id for c in outcome.codes}) == 3  # one SMS per order
    assert all(c.age < 300 and math.isfinite(c.latency) and c.latency >= 0 for c in outcome.codes)
    assert outcome.lag  # the sampler ran inside the bot while it polled

    report_latency(outcome)
    name, _, line = capsys.readouterr().out.strip().partition(": ")
    figures = dict(part.split("=", 1) for part in line.split(", "))
    assert name.startswith("code latency") and figures["delivered"] == "3"
    assert all(math.isfinite(float(figures[key])) for key in ("p50_s", "p99_s", "p99_intervals", "ratio_to_goal"))
    if upstream == "smscode":  # per order: the goal is about fresh orders, beside the capacity
        assert figures["fresh_sms_delivered"] == "3/3" and figures["capacity_checks_per_interval"] == "20"


def test_figures_of_no_code_and_of_lag() -> None:
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0 and percentile([1.0, 2.0], 0.99) == 2.0
    assert math.isnan(percentile([], 0.99))
    assert lag_figures([0.001, 0.060]) | {"samples": 2} == {
        "samples": 2,
        "p99_ms": "60.0",
        "max_ms": "60.0",
        "goal_max_ms": "50",
        "ratio_to_goal": "1.20",
    }
