"""``python -m bench``: run every benchmark in turn."""

from __future__ import annotations

import asyncio

from bench import broadcast, catalog, code_latency, durability, fuzz, loop_lag, memory, throughput


def main() -> None:
    asyncio.run(throughput.main())
    asyncio.run(code_latency.main())
    asyncio.run(loop_lag.main())
    asyncio.run(catalog.main())
    asyncio.run(durability.main())
    asyncio.run(memory.main())
    asyncio.run(broadcast.main())
    asyncio.run(fuzz.main())  # last: exits with status 1 when the fuzz finds anything


if __name__ == "__main__":
    main()
