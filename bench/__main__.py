"""``python -m bench``: run every benchmark in turn."""

from __future__ import annotations

import asyncio

from bench import broadcast, catalog, durability, poll_cycle


def main() -> None:
    asyncio.run(poll_cycle.main())
    asyncio.run(catalog.main())
    asyncio.run(durability.main())
    asyncio.run(broadcast.main())


if __name__ == "__main__":
    main()
