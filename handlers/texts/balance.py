"""Texts of /balance: the balance and the latest movements of the ledger. Pure functions, HTML."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiogram.utils.i18n import gettext as _

from handlers.texts import labels
from storage.ledger import Entry


def moment(stored: str) -> str:
    """A stored UTC timestamp (``2026-01-02T03:04:05.678Z``) to the minute: ``2026-01-02 03:04``."""
    try:
        return datetime.fromisoformat(stored).strftime("%Y-%m-%d %H:%M")
    except ValueError:  # never written by this bot: shown as unknown rather than raw
        return "—"


def movement(entry: Entry, fmt: Callable[[int], str]) -> str:
    """One ledger row: when, how much (signed), what, and for which order."""
    sign = "+" if entry.amount > 0 else "−"
    order = f" #{entry.order_id}" if entry.order_id else ""
    return labels.line(
        f"{moment(entry.created_at)} {sign}{fmt(abs(entry.amount))} {labels.ledger_kind(entry.kind)}{order}"
    )


def balance_text(balance: int, entries: list[Entry], fmt: Callable[[int], str]) -> str:
    lines = [_("💰 Your balance: <b>{balance}</b>").format(balance=fmt(balance))]
    if entries:
        lines += ["", _("Latest movements:")]
        lines += [movement(entry, fmt) for entry in entries]
    return "\n".join(lines)
