"""``python -m bench``: run every benchmark in turn; ``python -m bench throughput memory`` runs those named.

``make bench`` runs them all (about 70 minutes on a small machine: the broadcast, the fuzz, the
10-minute memory window and the code-latency runs take most of it).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

from bench import broadcast, catalog, code_latency, durability, fuzz, hot_spots, loop_lag, memory, replicas, throughput

#: in the order ``make bench`` runs them; the fuzz last: it exits with status 1 when it finds anything
BENCHMARKS: dict[str, Callable[[], Awaitable[None]]] = {
    "throughput": throughput.main,
    "replicas": replicas.main,  # PostgreSQL's figures only with a server: it says so when skipped
    "hot_spots": hot_spots.main,
    "code_latency": code_latency.main,
    "loop_lag": loop_lag.main,
    "catalog": catalog.main,
    "durability": durability.main,
    "memory": memory.main,
    "broadcast": broadcast.main,
    "fuzz": fuzz.main,
}


def main(names: list[str]) -> None:
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    for name in names or list(BENCHMARKS):
        asyncio.run(BENCHMARKS[name]())


if __name__ == "__main__":
    main(sys.argv[1:])
