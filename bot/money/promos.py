"""Promo codes: admins create them, each user redeems a code at most once. Each method owns its transaction.

A redemption is one transaction: the code is checked (exists, not expired, uses left), the use is
recorded (``promo_uses`` has one row per code and user), the use is counted and the credit posted
with the reference ``promo:<CODE>:<user_id>``, so it can never be credited twice.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from providers.money import MONEY_BOUND
from storage import admin_log, ledger
from storage import promos as promo_rows
from storage.backends import Store
from storage.promos import PromoCode

logger = logging.getLogger(__name__)

CODE_RE = re.compile(r"[A-Za-z0-9_-]{3,32}")
MAX_USES = 1_000_000
MAX_DAYS = 3650


class Redeemed(enum.StrEnum):
    CREDITED = "credited"
    NOT_FOUND = "not_found"
    EXPIRED = "expired"
    USED_UP = "used_up"
    ALREADY_USED = "already_used"


@dataclass(frozen=True, slots=True)
class Redemption:
    outcome: Redeemed
    amount: int = 0
    balance: int = 0


class _UsedUp(Exception):
    """No use left: roll the recorded use back."""


class _AlreadyPosted(Exception):
    """The credit's reference was in the ledger already: roll the use back."""


def normalize_code(text: str) -> str:
    """``"spring-25"`` -> ``"SPRING-25"``; ValueError unless 3–32 letters, digits, ``-`` or ``_``."""
    cleaned = text.strip()
    if not CODE_RE.fullmatch(cleaned):
        raise ValueError(f"not a promo code: {text!r}")
    return cleaned.upper()


def parse_count(text: str, high: int) -> int:
    """A whole number from 1 to ``high`` typed by a person (uses, days); ValueError for anything else
    (a sign, ``1e3``, ``1_000``, digits from other scripts, more digits than ``high`` has)."""
    cleaned = text.strip()
    if not (cleaned.isascii() and cleaned.isdigit() and len(cleaned) <= len(str(high))):
        raise ValueError(f"not a whole number from 1 to {high}: {text!r}")
    value = int(cleaned)
    if not 1 <= value <= high:
        raise ValueError(f"not a whole number from 1 to {high}: {text!r}")
    return value


def _whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


class Promos:
    def __init__(self, db: Store) -> None:
        self.db = db

    async def create(
        self, *, admin_id: int, code: str, amount: int, max_uses: int, days: int | None = None
    ) -> PromoCode | None:
        """The new code, or None when ``code`` already exists. ValueError for out-of-range input:
        ``amount`` is 1 to ``MONEY_BOUND`` minor units (the handler holds it to ``MAX_AMOUNT``)."""
        code = normalize_code(code)
        if not (
            _whole(amount, 1, MONEY_BOUND)
            and _whole(max_uses, 1, MAX_USES)
            and (days is None or _whole(days, 1, MAX_DAYS))
        ):
            raise ValueError("amount, uses or days out of range")
        expires = datetime.now(UTC) + timedelta(days=days) if days else None
        async with self.db.transaction() as conn:
            promo = await promo_rows.create(
                conn, code=code, amount=amount, max_uses=max_uses, expires_at=expires, created_by=admin_id
            )
            if promo is not None:
                details = f"code={code} amount={amount} uses={max_uses} days={days}"
                await admin_log.record(conn, admin_id, "promo_new", details)
        if promo is not None:
            logger.info("admin %d created promo code %s (%d x %d)", admin_id, code, amount, max_uses)
        return promo

    async def newest(self, limit: int = 30) -> list[PromoCode]:
        async with self.db.read() as conn:
            return await promo_rows.newest(conn, limit)

    async def redeem(self, user_id: int, text: str, now: datetime | None = None) -> Redemption:
        """Credit the code's amount to ``user_id`` once. ValueError when ``text`` is not a code."""
        code = normalize_code(text)
        now = now or datetime.now(UTC)
        try:
            async with self.db.transaction() as conn:
                promo = await promo_rows.get(conn, code)
                if promo is None:
                    return Redemption(Redeemed.NOT_FOUND)
                if promo.expired(now):
                    return Redemption(Redeemed.EXPIRED)
                if not await promo_rows.add_use(conn, code, user_id):
                    return Redemption(Redeemed.ALREADY_USED)
                if not await promo_rows.count_use(conn, code):
                    raise _UsedUp
                entry = await ledger.post(
                    conn, user_id=user_id, amount=promo.amount, kind="promo", reference=f"promo:{code}:{user_id}"
                )
                if entry is None:
                    raise _AlreadyPosted
        except _UsedUp:  # the use row above is rolled back with it
            return Redemption(Redeemed.USED_UP)
        except _AlreadyPosted:
            logger.error("promo %s: credit for user %d was in the ledger without its use", code, user_id)
            return Redemption(Redeemed.ALREADY_USED)
        logger.info("user %d redeemed promo code %s for %d", user_id, code, promo.amount)
        return Redemption(Redeemed.CREDITED, promo.amount, entry.balance_after)
