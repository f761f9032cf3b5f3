"""Balances and manual ledger entries. Each method owns its transaction."""

from __future__ import annotations

from bot import languages
from providers.money import format_localized, format_minor
from storage import admin_log, ledger, users
from storage.backends import Store
from storage.ledger import Entry


def money(amount: int, currency: str, locale: str | None = None) -> str:
    """The one way an amount is written for people, in ``locale`` (by default the language of the screen
    being rendered, :func:`bot.languages.current`): ``1250, "USD"`` reads ``"12.50 USD"`` in English (as
    it always did) and as CLDR writes money elsewhere, ``"12,50 $"`` in Russian."""
    locale = locale or languages.current()
    if locale == languages.DEFAULT:
        return f"{format_minor(amount, currency)} {currency}"
    return format_localized(amount, currency, locale)


class Billing:
    def __init__(self, db: Store, currency: str) -> None:
        self.db = db
        self.currency = currency

    def fmt(self, amount: int) -> str:
        """``1250`` -> ``"12.50 USD"`` in the bot's currency."""
        return money(amount, self.currency)

    async def balance(self, user_id: int) -> int:
        async with self.db.read() as conn:
            user = await users.get(conn, user_id)
        return user.balance if user else 0

    async def history(self, user_id: int, limit: int = 5) -> list[Entry]:
        async with self.db.read() as conn:
            return await ledger.recent(conn, user_id, limit)

    async def admin_adjust(
        self, *, admin_id: int, user_id: int, amount: int, reason: str, reference: str
    ) -> Entry | None:
        """Credit (or, negative, debit) a user by hand; ``reference`` makes a replay a no-op.

        Raises LookupError for an unknown user and ``ledger.InsufficientFunds`` for a debit the
        balance does not cover.
        """
        kind = "admin_credit" if amount > 0 else "admin_debit"
        async with self.db.transaction() as conn:
            if await users.get(conn, user_id) is None:
                raise LookupError(user_id)
            entry = await ledger.post(
                conn, user_id=user_id, amount=amount, kind=kind, reference=reference, actor_id=admin_id, reason=reason
            )
            if entry is not None:
                await admin_log.record(conn, admin_id, kind, f"user={user_id} amount={amount} reason={reason}")
            return entry

    async def reconcile(self) -> list[tuple[int, int, int]]:
        """Users whose cached balance differs from their ledger sum (should be none)."""
        async with self.db.read() as conn:
            return await ledger.discrepancies(conn)
