"""Broadcasts: start one for an audience, keep the admin's progress message current, cancel, resume.

Every broadcast runs as an asyncio task owned by :class:`Broadcasts`, never inside an update handler.
The broadcasts a process sends share one rate limiter (``BROADCAST_RATE`` messages per second, bursts of
two at most). Each recipient's state is stored, so a restart resumes where it stopped. A recipient caught
in ``sending`` by a crash may or may not have received the message: it is marked failed ("interrupted")
and never sent again, so a crash leaves at most one uncertain recipient per sender, never a duplicate.

Replicas sharing one PostgreSQL: a running broadcast is leased to the one replica that sends it (the
one it was started on), which renews the lease while it sends (:mod:`bot.operator.broadcast_sending`).
Every replica looks every third of LEASE_SECONDS for running broadcasts whose lease ran out
(:meth:`Broadcasts.take_over`): the first to look takes the lease and resumes it exactly as a restart
does, progress message included. All running broadcasts go from one replica at a time: one started on
another replica meanwhile waits for that one's next look. So together they go at BROADCAST_RATE, and a
dead replica's go on within about one lease period. A graceful stop frees the leases at once. With
SQLite the one process is the only replica: at start it takes every running broadcast, whoever held it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Protocol

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiolimiter import AsyncLimiter
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import languages
from bot.operator.broadcast_sending import Runner, expired_before, lease_end
from bot.orders.leases import replica_name
from storage import admin_log, users
from storage import broadcast_leases as leases
from storage import broadcasts as broadcast_rows
from storage.backends import Store
from storage.broadcasts import Broadcast, Counts

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class BroadcastView(Protocol):
    """How a broadcast looks in Telegram; ``handlers/admin/broadcast_keyboards.py`` (a module) is one."""

    def progress_text(self, broadcast_id: int, audience: str, counts: Counts, status: str) -> str: ...

    def progress(self, broadcast_id: int) -> InlineKeyboardMarkup: ...

    def url_button(self, text: str | None, url: str | None) -> InlineKeyboardMarkup | None: ...


class Broadcasts:
    def __init__(
        self,
        bot: Bot,
        db: Store,
        i18n: I18n,
        view: BroadcastView,
        rate: float,
        *,
        senders: int = 4,
        progress_every: float = 3.0,
        lease_seconds: float = 30.0,
        replica: str | None = None,
    ) -> None:
        self.bot, self.db, self.i18n, self.view = bot, db, i18n, view
        self.limiter = AsyncLimiter(2, 2 / rate)
        self.senders = senders
        self.progress_every = progress_every
        self.lease_seconds = lease_seconds  # LEASE_SECONDS: a dead replica's broadcasts go on after about this
        self.replica = replica or replica_name()  # this process among the replicas, as its order leases name it
        self._runs: dict[int, tuple[Runner, asyncio.Task[None]]] = {}
        self._stopping = False  # set by stop(): nothing is taken or launched any more

    async def audience_size(self, audience: str) -> int:
        async with self.db.read() as conn:
            return await broadcast_rows.audience_size(conn, audience)

    async def start(
        self, *, admin_id: int, from_chat_id: int, message_id: int, button: tuple[str, str] | None,
        audience: str, progress: tuple[int, int],
    ) -> tuple[int, int, bool]:  # fmt: skip
        """Create the broadcast and its recipients in one transaction and start sending in the background
        (or leave it to the replica sending the others). ``progress`` is the (chat, message) the progress is
        shown in; one confirmation screen starts one broadcast however often it is tapped. Returns
        ``(id, recipients, created)``."""
        async with self.db.transaction() as conn:
            existing = await broadcast_rows.by_progress(conn, *progress)
            if existing is not None:
                return existing.id, (await broadcast_rows.counts(conn, existing.id)).total, False
            # another replica sending one already: it takes this one too at its next look (one rate limiter)
            queued = await leases.sender_elsewhere(conn, self.replica, expired_before(self.db))
            broadcast_id, recipients = await broadcast_rows.create(
                conn, admin_id=admin_id, from_chat_id=from_chat_id, message_id=message_id, button=button,
                audience=audience, progress=progress,
                lease=None if queued else (self.replica, lease_end(self.lease_seconds)),
            )  # fmt: skip
            await admin_log.record(conn, admin_id, "broadcast", f"id={broadcast_id} audience={audience} n={recipients}")
            broadcast = await broadcast_rows.get(conn, broadcast_id)
        assert broadcast is not None
        where = "the replica sending the others" if queued else "this one"
        logger.info("broadcast %d by %d: %d recipients, sent from %s", broadcast_id, admin_id, recipients, where)
        if not queued:
            self._launch(broadcast)
        return broadcast_id, recipients, True

    async def cancel(self, broadcast_id: int, admin_id: int) -> bool:
        """Stop sending, whichever replica sends it; the remaining recipients stay pending. False when it
        was not running. The sender stops at its next claim and shows the final progress; when nobody
        sends it (its replica died), this replica takes it and shows it."""
        orphan = False
        async with self.db.transaction() as conn:
            cancelled = await broadcast_rows.set_status(conn, broadcast_id, "cancelled")
            if cancelled:
                await admin_log.record(conn, admin_id, "broadcast_cancel", f"id={broadcast_id}")
                orphan = broadcast_id not in self._runs and await leases.take(
                    conn, broadcast_id, self.replica, lease_end(self.lease_seconds), expired_before(self.db)
                )
        if run := self._runs.get(broadcast_id):
            run[0].halt()
        elif orphan:
            async with self.db.read() as conn:
                fresh = await broadcast_rows.get(conn, broadcast_id)
            if fresh is not None:
                await self._progress(fresh, True)
        return cancelled

    async def resume(self) -> list[int]:
        """Take and go on with every running broadcast nobody sends: at start (a restart's), and later a
        dead replica's. Recipients it left ``sending`` become failed. The ids of those taken."""
        if self._stopping:
            return []
        until, cutoff = lease_end(self.lease_seconds), expired_before(self.db)
        taken: list[Broadcast] = []
        async with self.db.transaction() as conn:
            for broadcast in await leases.unattended(conn, self.replica, cutoff):
                if broadcast.id in self._runs:
                    continue
                if not await leases.take(conn, broadcast.id, self.replica, until, cutoff, alone=True):
                    continue
                taken.append(broadcast)
                if interrupted := await broadcast_rows.interrupt(conn, broadcast.id):
                    logger.warning("broadcast %d: %d recipients interrupted by a crash", broadcast.id, interrupted)
        if self._stopping and taken:  # stop() came meanwhile: leave them to the other replicas
            await self._release()
            return []
        for broadcast in taken:
            logger.info("broadcast %d resumes here (its lease was %s's)", broadcast.id, broadcast.lease_owner)
            self._launch(broadcast)
        return [b.id for b in taken]

    async def take_over(self) -> None:
        """The periodic job: resume the broadcasts of a replica that died (see :meth:`schedule`)."""
        await self.resume()

    def schedule(self, scheduler: AsyncIOScheduler, tracked: Callable[[Job], Job]) -> None:
        """On every replica, every third of LEASE_SECONDS: :meth:`take_over`, once at a time."""
        scheduler.add_job(
            tracked(self.take_over), "interval", seconds=self.lease_seconds / 3, id="broadcast_takeover",
            max_instances=1, coalesce=True, misfire_grace_time=None,
        )  # fmt: skip

    async def wait(self, broadcast_id: int) -> None:
        if run := self._runs.get(broadcast_id):
            await asyncio.shield(run[1])

    async def stop(self, grace: float = 5.0) -> None:
        """At shutdown: stop claiming recipients, let the sends in flight finish, then end the tasks and
        free the leases (another replica goes on at once)."""
        self._stopping = True
        runs = list(self._runs.values())
        for runner, _task in runs:
            runner.halt()
        tasks = [task for _runner, task in runs]
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            for task in late:
                with suppress(asyncio.CancelledError):
                    await task
        await self._release()

    async def _release(self) -> None:
        """Free this replica's leases, so another replica goes on with its broadcasts at its next look."""
        try:
            async with self.db.transaction() as conn:
                freed = await leases.release_leases(conn, self.replica)
        except Exception as exc:  # the database is gone or unreachable: the leases run out by themselves
            logger.warning("broadcast leases not released: %r", exc)
            return
        if freed:
            logger.info("released %d broadcast leases for the other replicas", freed)

    def _launch(self, broadcast: Broadcast) -> None:
        if broadcast.id in self._runs or self._stopping:
            return
        runner = Runner(
            self.bot,
            self.db,
            broadcast,
            self.limiter,
            markup=self.view.url_button(broadcast.button_text, broadcast.button_url),
            senders=self.senders,
            on_progress=self._progress,
            progress_every=self.progress_every,
            owner=self.replica,
            lease_seconds=self.lease_seconds,
        )
        task = asyncio.create_task(runner.run(), name=f"broadcast-{broadcast.id}")
        self._runs[broadcast.id] = (runner, task)
        task.add_done_callback(lambda t: self._finished(broadcast.id, t))

    def _finished(self, broadcast_id: int, task: asyncio.Task[None]) -> None:
        self._runs.pop(broadcast_id, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("broadcast %d stopped on an error", broadcast_id, exc_info=exc)

    async def _progress(self, broadcast: Broadcast, final: bool) -> None:
        """Edit the progress message (with Cancel while running); at the end, also send the report."""
        try:
            async with self.db.read() as conn:
                counts = await broadcast_rows.counts(conn, broadcast.id)
                admin = await users.get(conn, broadcast.admin_id)
            status = broadcast.status if final else "running"
            locale = languages.of_user(admin, self.i18n.available_locales, self.i18n.default_locale)
            with self.i18n.context(), self.i18n.use_locale(locale):
                text = self.view.progress_text(broadcast.id, broadcast.audience, counts, status)
                markup = None if final else self.view.progress(broadcast.id)
            chat_id = broadcast.progress_chat_id or broadcast.admin_id
            if broadcast.progress_message_id is not None:
                try:
                    await self.bot.edit_message_text(
                        text=text, chat_id=chat_id, message_id=broadcast.progress_message_id, reply_markup=markup
                    )
                except TelegramBadRequest as exc:
                    if "not modified" not in exc.message:
                        logger.info("broadcast %d: progress not shown: %s", broadcast.id, exc.message)
            if final:
                await self.bot.send_message(chat_id, text)
        except TelegramAPIError as exc:
            logger.warning("broadcast %d: progress not shown: %s", broadcast.id, exc)
        except Exception:
            logger.exception("broadcast %d: progress failed", broadcast.id)
