"""Times as the database stores them: ISO 8601 text in UTC, compared as strings.

A column filled by its default (``created_at``) holds SQLite's ``strftime('%Y-%m-%dT%H:%M:%fZ', 'now')``,
to the millisecond. Queries that stamp a row pass :func:`stored_now`, the same text made in Python,
rather than ask the database for the time (PostgreSQL has no such ``strftime``). :func:`iso` writes the
times the services compute (expiries, cut-offs), to the microsecond.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def stored_now(moment: datetime | None = None) -> str:
    """``moment`` (now when None) as a column default stamps it: ``2024-05-01T12:34:56.789Z``."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
