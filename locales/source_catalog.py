"""Fill the English catalog from the template: English is the source language, so each msgstr is its
msgid (the plural's two forms, the singular and the plural). Run by ``make messages`` after
``pybabel update``; a translation edited by hand in ``en`` (a wording fixed without touching the code)
is kept."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

SOURCE = Path(__file__).resolve().parent / "en" / "LC_MESSAGES" / "messages.po"


def fill(path: Path = SOURCE) -> int:
    """Give every empty or fuzzy message of ``path`` its source text; returns how many were filled."""
    with path.open("rb") as f:
        catalog = read_po(f, locale="en")
    filled = 0
    for message in catalog:
        if not message.id:
            continue  # the header
        plural = isinstance(message.id, tuple | list)
        if message.fuzzy or not (all(message.string) if plural else message.string):
            message.string = tuple(message.id) if plural else message.id
        else:
            continue
        message.flags.discard("fuzzy")
        filled += 1
    catalog.fuzzy = False
    with path.open("wb") as f:
        write_po(f, catalog, width=120, sort_by_file=True)
    return filled


if __name__ == "__main__":
    print(f"{fill()} English messages filled from their source", file=sys.stderr)
