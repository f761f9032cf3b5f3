"""``python -m bench``: run every benchmark in turn."""

from __future__ import annotations

import asyncio

from bench import broadcast, catalog, durability, fuzz, poll_cycle


def main() -> None:
    asyncio.run(poll_cycle.main())
    asyncio.run(catalog.main())
    asyncio.run(durability.main())
    asyncio.run(broadcast.main())
    asyncio.run(fuzz.main())  # last: exits with status 1 when the fuzz finds anything


if __name__ == "__main__":
    main()
