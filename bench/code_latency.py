"""Code latency with open orders: from an SMS reaching the upstream to the bot sending the code to Telegram.

The real bot process follows 1,000 and then 10,000 open orders (:mod:`bench.arrivals`) at two upstreams over
their fakes: the sms-activate protocol, whose adapter reads every open activation in one call where it can,
and SMSCode, which is asked order by order. Every read goes through the bot's own rate limiter
(``UPSTREAM_RATE_PER_SECOND``, 20 by default) at the default 5 s poll interval. 200 SMS arrive over a minute,
most of them to orders a few minutes old.

Goals, as ratios (≤ 1 meets it): p99 ≤ 2 poll intervals at the bulk upstream; at the per-order one, p99 ≤ 2
intervals for orders under five minutes old, printed beside the capacity (rate × interval: the checks one
interval allows; the guard keeps ``UPSTREAM_BUY_SHARE_PERCENT`` of them for buys, the rest are reads). A code
never sent counts as infinitely late. Then the buyer's run from issue 11: 100 open orders at an
sms-activate-protocol upstream allowing 5 requests/s, a 5 s interval, ten SMS; every code within 10 s.

``BENCH_CODE_ORDERS`` (e.g. ``1000``) limits the runs to those order counts.
"""

from __future__ import annotations

import math
import os

from bench.arrivals import Outcome, Scenario, percentile, run
from bench.common import report
from bench.open_orders import SIDES
from providers.guard import DEFAULT_BUY_SHARE_PERCENT

ORDER_COUNTS = [int(n) for n in os.environ.get("BENCH_CODE_ORDERS", "1000,10000").split(",")]
GOAL_INTERVALS = 2.0
BUYER_GOAL_S = 10.0
BUYER = Scenario("smsactivate", orders=100, sms=10, window=20.0, rate=5.0, max_age=120.0, patience=40.0)


def seconds(value: float) -> str:
    """Two decimals; ``-`` for no value (no SMS of that kind), ``inf`` when a code was never sent."""
    return "-" if math.isnan(value) else f"{value:.2f}"


def ratio(value: float, limit: float) -> str:
    return seconds(value / limit)


def report_latency(outcome: Outcome) -> None:
    scenario = outcome.scenario
    interval = scenario.interval
    bulk = SIDES[scenario.upstream].bulk
    watched = outcome.latencies() if bulk else outcome.latencies(fresh=True)  # what the goal is about
    p50, p99 = percentile(watched, 0.5), percentile(watched, 0.99)
    figures: dict[str, object] = {
        "upstream": f"{scenario.upstream} ({'bulk' if bulk else 'per order'})",
        "orders": scenario.orders,
        "interval_s": interval,
        "rate_per_s": scenario.rate,
        "sms": len(outcome.codes),
        "delivered": outcome.delivered,
    }
    if not bulk:
        capacity = scenario.rate * interval
        reads = capacity * (100 - DEFAULT_BUY_SHARE_PERCENT) / 100  # the guard keeps the rest for buys
        older = outcome.latencies(fresh=False)
        figures |= {"capacity_checks_per_interval": f"{capacity:.0f}", "of_them_reads": f"{reads:.0f}"}
        sent = sum(math.isfinite(value) for value in watched)
        figures |= {"fresh_sms_delivered": f"{sent}/{len(watched)}"}
        figures |= {"older_p50_s": seconds(percentile(older, 0.5)), "older_p99_s": seconds(percentile(older, 0.99))}
    figures |= {
        "p50_s": seconds(p50),
        "p99_s": seconds(p99),
        "p50_intervals": ratio(p50, interval),
        "p99_intervals": ratio(p99, interval),
        "ratio_to_goal": ratio(p99 / interval, GOAL_INTERVALS),
        "poll_overrun_logged": outcome.overran,
        "bot_tracebacks": outcome.tracebacks,
    }
    report("code latency" + ("" if bulk else " (fresh orders)"), **figures)


async def buyer() -> None:
    outcome = await run(BUYER)
    latencies = [c.latency for c in sorted(outcome.codes, key=lambda c: c.offset)]
    worst = max(latencies)
    report(
        "code latency, buyer's 100 orders",
        upstream="smsactivate",
        rate_per_s=BUYER.rate,
        interval_s=BUYER.interval,
        codes_s="/".join(seconds(value) for value in latencies),
        delivered=outcome.delivered,
        median_s=seconds(percentile(latencies, 0.5)),
        max_s=seconds(worst),
        goal_s=BUYER_GOAL_S,
        ratio_to_goal=ratio(worst, BUYER_GOAL_S),
        bot_tracebacks=outcome.tracebacks,
    )


async def main() -> None:
    for orders in ORDER_COUNTS:
        for upstream in ("smsactivate", "smscode"):
            report_latency(await run(Scenario(upstream, orders=orders, sms=200, window=60.0)))
    await buyer()
