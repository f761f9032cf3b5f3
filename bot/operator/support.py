"""/paysupport: a user's message to the operator, and the operator's reply back to them.

The Telegram side sends the user's message to every admin; this service says whether the user may write
now (at most :attr:`Support.per_hour` messages an hour), gathers what an admin needs to answer (the user,
their latest orders and Stars charge ids) and remembers which bot message in which admin chat carries
whose words, so that an admin's reply to it finds the user. Each method owns its transaction.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from storage import orders as order_q
from storage import support as threads
from storage import users
from storage.backends import Store
from storage.orders import Order
from storage.support import StarCharge
from storage.timestamps import stored_now
from storage.users import User

logger = logging.getLogger(__name__)

#: support messages one user may send in :data:`WINDOW`
PER_HOUR = 3
WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class SupportCase:
    """What an admin sees above a user's message."""

    user: User
    orders: list[Order]  # newest first
    charges: list[StarCharge]  # newest first


class Support:
    def __init__(self, db: Store, admin_ids: Iterable[int], *, per_hour: int = PER_HOUR, rows: int = 5) -> None:
        self.db = db
        self.admin_ids = tuple(sorted(admin_ids))
        self.per_hour = per_hour
        self.rows = rows
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, user_id: int) -> asyncio.Lock:
        """One user's messages to support, one at a time: messages sent together (an album) cannot all
        pass the hourly limit before the first is recorded. Kept while in use only."""
        lock = self._locks.get(user_id)
        if lock is None:
            lock = self._locks[user_id] = asyncio.Lock()
        return lock

    @property
    def available(self) -> bool:
        """False when no admin is configured: nobody would read a message."""
        return bool(self.admin_ids)

    async def may_write(self, user_id: int, now: datetime | None = None) -> bool:
        """True while ``user_id`` sent fewer than :attr:`per_hour` support messages in the last hour."""
        since = stored_now((now or datetime.now(UTC)) - WINDOW)
        async with self.db.read() as conn:
            return await threads.sent_since(conn, user_id, since) < self.per_hour

    async def case(self, user_id: int) -> SupportCase | None:
        """The user with their latest orders and Stars payments; None for someone never seen."""
        async with self.db.read() as conn:
            user = await users.get(conn, user_id)
            if user is None:
                return None
            orders = await order_q.for_user(conn, user_id, self.rows)
            charges = await threads.star_charges(conn, user_id, self.rows)
        return SupportCase(user, orders, charges)

    async def record(self, user_id: int, sent: Iterable[tuple[int, int]], now: datetime | None = None) -> int:
        """Remember the bot messages ``(admin chat id, message id)`` that carry one message of ``user_id``;
        they count as one message against the hourly limit. Returns how many were stored."""
        stamp = stored_now(now)
        count = 0
        async with self.db.transaction() as conn:
            for chat_id, message_id in sent:
                await threads.add(
                    conn, admin_chat_id=chat_id, admin_message_id=message_id, user_id=user_id, created_at=stamp
                )
                count += 1
        if count:
            logger.info("support message of user %d reached the admins (%d messages)", user_id, count)
        return count

    async def user_for(self, admin_chat_id: int, message_id: int) -> int | None:
        """The user whose words the bot message ``message_id`` in an admin's chat carries; None when it
        is no support message (or the chat is not an admin's)."""
        if admin_chat_id not in self.admin_ids:
            return None
        async with self.db.read() as conn:
            return await threads.user_of(conn, admin_chat_id, message_id)
