"""Event-loop lag of the real bot while 10,000 orders are open and polling runs.

The bot process (:mod:`bench.sampled_bot`) carries one extra task that sleeps 10 ms again and again and
notes how late each wake-up is: anything holding the loop (parsing a bulk answer, building order objects,
a slow query on the loop) shows as lateness, which every update handled meanwhile waits through too.
The orders sit at the bulk upstream and then at the per-order one (:mod:`bench.arrivals`), 50 SMS
arriving over the minute sampled, so codes are stored and sent meanwhile. Samples count from the bot's
first ``getUpdates`` to the end of the run; ``worst_at_s`` says when, after that, the worst one ended.

Goal: the longest lateness under 50 ms (ratio to the goal ≤ 1); p99 printed beside it.
"""

from __future__ import annotations

import os

from bench.arrivals import Scenario, percentile, run
from bench.common import report

ORDERS = int(os.environ.get("BENCH_LAG_ORDERS", "10000"))
GOAL_MAX_MS = 50.0


def lag_figures(lag: list[float]) -> dict[str, object]:
    """p99 and max lateness in milliseconds, and the max's ratio to the goal."""
    worst = max(lag, default=float("nan")) * 1000
    return {
        "samples": len(lag),
        "p99_ms": f"{percentile(lag, 0.99) * 1000:.1f}",
        "max_ms": f"{worst:.1f}",
        "goal_max_ms": f"{GOAL_MAX_MS:.0f}",
        "ratio_to_goal": f"{worst / GOAL_MAX_MS:.2f}",
    }


async def main() -> None:
    for upstream, label in (("smsactivate", "bulk"), ("smscode", "per order")):
        outcome = await run(Scenario(upstream, orders=ORDERS, sms=50, window=60.0, patience=10.0))
        report(
            "event-loop lag",
            upstream=f"{upstream} ({label})",
            orders=ORDERS,
            sms_delivered=f"{outcome.delivered}/{len(outcome.codes)}",
            **lag_figures(outcome.lag),
            worst_at_s=f"{outcome.worst_lag_at:.1f}",
            bot_tracebacks=outcome.tracebacks,
        )
