"""One broadcast being sent: a few senders behind the shared rate limiter, with 429 pauses.

Each recipient is claimed (``pending`` → ``sending``, committed), copied with ``copyMessage``, then
finished (``sent`` / ``unreachable`` / ``failed``). A 429 pauses every sender of the broadcast for
``retry_after`` and the same recipient is tried again; a crash leaves at most one recipient per
sender in ``sending``, which the next start marks failed instead of sending twice.

The runner holds the broadcast's lease and renews it every third of :attr:`Runner.lease_seconds`. A
claim succeeds only while the lease is ours and the broadcast runs, so a cancel committed on any
replica, or another replica's takeover after our lease ran out (we stalled), stops the senders at
their next claim; a renewal that fails halts the runner even while no sender claims.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import InlineKeyboardMarkup
from aiolimiter import AsyncLimiter

from bot.orders.leases import others_run_out_before, sole_process
from bot.runtime.metrics import BROADCAST_MESSAGES
from storage import broadcast_leases, users
from storage import broadcasts as broadcast_rows
from storage.backends import Store
from storage.broadcasts import FIRST, Broadcast
from storage.timestamps import iso

logger = logging.getLogger(__name__)

#: Bad Request descriptions that mean the chat is gone for good, like a block
UNREACHABLE = ("chat not found", "user is deactivated")
#: 429s in a row for one recipient before it is given up as failed
MAX_RETRIES = 10

Progress = Callable[[Broadcast, bool], Awaitable[None]]


def lease_end(seconds: float) -> str:
    """When a lease taken or renewed now ends."""
    return iso(datetime.now(UTC) + timedelta(seconds=seconds))


def expired_before(db: Store) -> str:
    """Leases that ended before this belong to a dead (or stalled) replica (SQLite's one process: every other)."""
    return others_run_out_before(sole_process(db), datetime.now(UTC))


class Runner:
    def __init__(
        self,
        bot: Bot,
        db: Store,
        broadcast: Broadcast,
        limiter: AsyncLimiter,
        *,
        markup: InlineKeyboardMarkup | None,
        senders: int,
        on_progress: Progress,
        progress_every: float,
        owner: str,
        lease_seconds: float,
    ) -> None:
        self.bot, self.db, self.broadcast, self.limiter = bot, db, broadcast, limiter
        self.senders = senders
        self.on_progress = on_progress
        self.progress_every = progress_every
        self.owner, self.lease_seconds = owner, lease_seconds  # the replica holding the lease, and its length
        self.halted = False  # stop claiming recipients: cancelled, lease lost, or the bot is shutting down
        self._resume_at = 0.0
        self._after = FIRST  # the senders' cursor: every recipient up to this user id was claimed
        self._markup = markup  # the optional URL button under the message

    def halt(self) -> None:
        self.halted = True

    async def run(self) -> None:
        helpers = [asyncio.create_task(self._report_loop()), asyncio.create_task(self._keep_lease())]
        try:
            async with asyncio.TaskGroup() as senders:
                for _ in range(self.senders):
                    senders.create_task(self._sender())
        finally:
            for helper in helpers:
                helper.cancel()
        if not self.halted:
            async with self.db.transaction() as conn:
                await broadcast_rows.complete(conn, self.broadcast.id, self.owner)
        async with self.db.read() as conn:
            fresh = await broadcast_rows.get(conn, self.broadcast.id)
        # the final report comes from the replica that held the lease to the end, so it comes once
        if fresh is not None and fresh.status != "running" and fresh.lease_owner == self.owner:
            logger.info("broadcast %d %s", fresh.id, fresh.status)
            await self.on_progress(fresh, True)
        elif fresh is not None and fresh.lease_owner != self.owner:
            logger.warning(
                "broadcast %d: its lease went to %s, this replica stopped sending", fresh.id, fresh.lease_owner
            )

    async def _keep_lease(self) -> None:
        """Renew the lease every third of its length; halt once it is lost or the broadcast stopped running."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                async with self.db.transaction() as conn:
                    held = await broadcast_leases.renew(
                        conn, self.broadcast.id, self.owner, lease_end(self.lease_seconds)
                    )
            except Exception as exc:  # the claims fail too while the database does: try again next time
                logger.warning("broadcast %d: lease not renewed: %r", self.broadcast.id, exc)
                continue
            if not held:
                self.halt()
                return

    async def _report_loop(self) -> None:
        while True:
            await self.on_progress(self.broadcast, False)
            await asyncio.sleep(self.progress_every)

    async def _wait_pause(self) -> bool:
        """Wait out a 429's pause, if one runs; True when there was one to wait."""
        loop = asyncio.get_running_loop()
        delay = self._resume_at - loop.time()
        paused = delay > 0
        while delay > 0:  # a 429 during the pause may extend it
            await asyncio.sleep(delay)
            delay = self._resume_at - loop.time()
        return paused

    async def _sender(self) -> None:
        while not self.halted:
            await self._wait_pause()
            await self.limiter.acquire()
            if self.halted:
                return
            async with self.db.transaction() as conn:
                user_id = await broadcast_rows.claim(conn, self.broadcast.id, self.owner, self._after)
            if user_id is None:
                return
            self._after = max(self._after, user_id)
            await self._deliver(user_id)

    async def _deliver(self, user_id: int) -> None:
        b = self.broadcast
        for _attempt in range(MAX_RETRIES):
            # a 429 that came while this sender claimed (a slow commit) pauses its copy too, then a fresh token
            if await self._wait_pause():
                await self.limiter.acquire()
            try:
                await self.bot.copy_message(
                    chat_id=user_id, from_chat_id=b.from_chat_id, message_id=b.message_id, reply_markup=self._markup
                )
            except TelegramRetryAfter as exc:
                await self._paused(exc.retry_after)
                if self.halted:  # a 429 means it was not delivered: safe to leave for later
                    async with self.db.transaction() as conn:
                        await broadcast_rows.release(conn, b.id, user_id)
                    return
                continue
            except TelegramForbiddenError as exc:
                await self._unreachable(user_id, exc.message)
            except TelegramBadRequest as exc:
                if any(reason in exc.message.lower() for reason in UNREACHABLE):
                    await self._unreachable(user_id, exc.message)
                else:
                    await self._finish(user_id, "failed", exc.message)
            except Exception as exc:
                logger.warning("broadcast %d: user %d failed: %r", b.id, user_id, exc)
                await self._finish(user_id, "failed", str(exc) or type(exc).__name__)
            else:
                await self._finish(user_id, "sent")
            return
        await self._finish(user_id, "failed", "rate limited")

    async def _paused(self, retry_after: float) -> None:
        loop = asyncio.get_running_loop()
        self._resume_at = max(self._resume_at, loop.time() + retry_after)
        logger.info("broadcast %d: 429, every sender pauses %ss", self.broadcast.id, retry_after)
        await self._wait_pause()
        await self.limiter.acquire()

    async def _finish(self, user_id: int, status: str, error: str | None = None) -> None:
        async with self.db.transaction() as conn:
            await broadcast_rows.finish(conn, self.broadcast.id, user_id, status, error)
        BROADCAST_MESSAGES.labels(status).inc()

    async def _unreachable(self, user_id: int, error: str) -> None:
        async with self.db.transaction() as conn:
            await broadcast_rows.finish(conn, self.broadcast.id, user_id, "unreachable", error)
            await users.set_blocked(conn, user_id)
        BROADCAST_MESSAGES.labels("unreachable").inc()
