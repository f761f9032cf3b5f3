"""/terms: the operator's own terms, from ``TERMS_TEXT`` or ``TERMS_FILE``; None means the built-in ones.

The file is read at each call (in a worker thread, so an edit needs no restart); a missing, unreadable or
oversized file is logged and the built-in terms are shown instead.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

#: the largest terms file read; the terms are a few messages long, not a book
MAX_FILE_BYTES = 64 * 1024


class Terms:
    def __init__(self, text: str = "", path: Path | None = None) -> None:
        self.text = text.strip()
        self.path = path

    async def custom(self) -> str | None:
        """The operator's terms (HTML), or None: show the built-in ones."""
        if self.text:
            return self.text
        if self.path is None:
            return None
        try:
            content = await asyncio.to_thread(_read, self.path)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            logger.warning("TERMS_FILE %s not used, built-in terms shown: %s", self.path, exc)
            return None
        content = content.strip()
        if not content:
            logger.warning("TERMS_FILE %s is empty, built-in terms shown", self.path)
            return None
        return content


def _read(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
    return data.decode("utf-8")
