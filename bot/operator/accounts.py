"""The operator's view of one user: find them, see their money and orders, ban or unban them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from storage import accounts as user_admin
from storage import admin_log, ledger, users
from storage import orders as order_q
from storage.backends import Store
from storage.ledger import Entry
from storage.orders import Order
from storage.users import User

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UserCard:
    user: User
    entries: list[Entry]  # newest first
    orders: list[Order]  # newest first


def _fits_sqlite(digits: str) -> bool:
    try:
        return -(2**63) <= int(digits) < 2**63
    except ValueError:  # digits int() does not read, such as "²"
        return False


class AdminUsers:
    def __init__(self, db: Store) -> None:
        self.db = db

    async def card(self, query: str | int, rows: int = 5) -> UserCard | None:
        """``query``: a Telegram id or an @username; None when nobody matches."""
        text = str(query).strip()
        if len(text) > 64 or (text.lstrip("-").isdigit() and not _fits_sqlite(text)):
            return None  # no id or username is that long, nor an id beyond SQLite's 64-bit integers
        async with self.db.read() as conn:
            user = await user_admin.find(conn, str(query))
            if user is None:
                return None
            entries = await ledger.recent(conn, user.id, rows)
            orders = await order_q.for_user(conn, user.id, rows)
        return UserCard(user, entries, orders)

    async def set_banned(self, admin_id: int, user_id: int, banned: bool) -> bool:
        """Ban or unban, logged in the same transaction; False when nothing changed.

        Raises LookupError for an unknown user.
        """
        async with self.db.transaction() as conn:
            if await users.get(conn, user_id) is None:
                raise LookupError(user_id)
            changed = await user_admin.set_banned(conn, user_id, banned)
            if changed:
                await admin_log.record(conn, admin_id, "ban" if banned else "unban", f"user={user_id}")
        if changed:
            logger.info("admin %d %s user %d", admin_id, "banned" if banned else "unbanned", user_id)
        return changed
