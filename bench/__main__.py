"""``python -m bench``: run every benchmark in turn."""

from __future__ import annotations

import asyncio

from bench import poll_cycle


def main() -> None:
    asyncio.run(poll_cycle.main())


if __name__ == "__main__":
    main()
