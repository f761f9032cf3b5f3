"""Several real bot processes sharing one PostgreSQL and one Redis, in webhook mode behind a load balancer,
and :class:`Shop`, what a test drives and inspects of them.

The pieces a two-replica end-to-end test needs: a fake sms-activate both replicas reach over HTTP
(:func:`upstream`: one fake, so an SMS the test delivers is there for whichever replica asks), the
replicas (:class:`Replicas`), each with its own web port behind a round-robin
:class:`tests.fakes.balancer.Balancer` that the fake Bot API in ``--local`` mode posts updates to, and the
user's side of the shop with its database (:class:`Shop`).
"""

from __future__ import annotations

import asyncio
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

from handlers.callbacks import ConfirmCb
from storage import ledger
from storage.backends import Store
from tests.botproc import BotProcess
from tests.conftest import TOKEN, free_port
from tests.fakes.balancer import Balancer
from tests.fakes.smsactivate import FakeSmsActivate
from tests.fakes.telegram import FakeTelegram

ADMIN, USER = 1, 4242
KEY = "sa-e2e-replicas-key"
SECRET = "e2e-Replicas_secret-0123456789"
US = 187  # sms-activate's id of the United States


def upstream() -> FakeSmsActivate:
    """sms-activate selling WhatsApp in the US (0.20 USD, plenty in stock) and nothing else."""
    fake = FakeSmsActivate(api_key=KEY, balance="1000.00")
    fake.prices = {US: {"wa": [Decimal("0.20"), 10_000]}}
    return fake


class Replicas:
    """``count`` bot processes on one database and one Redis, each with its own web port behind ``balancer``."""

    def __init__(
        self, root: Path, fake: FakeTelegram, upstream_url: str, database_url: str, redis_url: str, count: int = 2
    ) -> None:
        self.fake = fake
        self.ports = [free_port() for _ in range(count)]
        self.balancer = Balancer([f"http://127.0.0.1:{port}" for port in self.ports])
        self.env = {
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": fake.url,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "ADMIN_IDS": str(ADMIN),
            "DEMO_PROVIDER": "off",
            "SMSACTIVATE_API_KEY": KEY,
            "SMSACTIVATE_BASE_URL": upstream_url,
            "WEBHOOK_SECRET": SECRET,
            "LEASE_SECONDS": "3",
            "POLL_INTERVAL_SECONDS": "1",
            "ORDER_TIMEOUT_MINUTES": "1",  # the shortest there is: the orders left without a code expire
            "MARKUP_PERCENT": "30",
            "PURCHASES_PER_MINUTE": "1000",  # the balance is what limits here, not the rate
            "MAX_ACTIVE_ORDERS_PER_USER": "1000",
            "USER_UPDATES_PER_SECOND": "1000",  # a scripted user taps at machine speed
            "USER_UPDATES_BURST": "10000",
            "SHUTDOWN_GRACE_SECONDS": "5",
        }
        self.killed: set[int] = set()  # indexes of the replicas :meth:`kill` ended
        self.procs = [
            BotProcess(root / f"replica{i}", DATABASE_PATH=str(root / f"replica{i}.sqlite3"), **self.env)
            for i in range(count)
        ]

    async def start(self) -> None:
        """Start every replica; back once each called setWebhook (its route takes updates before that)."""
        await self.balancer.__aenter__()
        for proc, port in zip(self.procs, self.ports, strict=True):
            proc.env.update(WEBHOOK_URL=f"{self.balancer.url}/telegram/hook", WEB_PORT=str(port))
            await proc.start()
        await self.fake.wait_for(lambda: len(self.fake.calls_of("setWebhook")) >= len(self.procs), timeout=90)

    def pid(self, index: int) -> int:
        proc = self.procs[index].proc
        assert proc is not None
        return proc.pid

    async def kill(self, index: int) -> None:
        """SIGKILL: a crash, nothing released."""
        self.killed.add(index)
        assert await self.procs[index].stop(signal.SIGKILL) is not None

    async def stop(self) -> dict[int, int | None]:
        """SIGTERM to those still running; index -> exit status (None for one never started)."""
        statuses = {i: await proc.stop(signal.SIGTERM, grace=60) for i, proc in enumerate(self.procs)}
        await self.balancer.__aexit__()
        return statuses

    def outputs(self) -> list[str]:
        return [proc.output() for proc in self.procs]


class Shop:
    """What the test drives and inspects: the fake Bot API, the fake upstream, the replicas, the database."""

    def __init__(self, fake: FakeTelegram, sa: FakeSmsActivate, replicas: Replicas, db: Store) -> None:
        self.fake, self.sa, self.replicas, self.db = fake, sa, replicas, db
        self.posted: set[int] = set()  # update ids the test POSTed itself, past the fake's queue

    async def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        async with self.db.read() as conn:
            async with conn.execute(sql, params) as cursor:
                return [tuple(row) for row in await cursor.fetchall()]

    async def orders(self) -> list[tuple[int, str, int, str, str | None]]:
        """(id, status, price, upstream id, lease owner) of the user's orders, oldest first."""
        sql = "SELECT id, status, price, upstream_id, lease_owner FROM orders WHERE user_id = ? ORDER BY id"
        return await self.rows(sql, USER)  # type: ignore[return-value]

    async def balance(self) -> int:
        return int((await self.rows("SELECT balance FROM users WHERE id = ?", USER))[0][0])

    async def ledger_of(self, kind: str) -> list[tuple[int, int, str]]:
        """(order id, amount, reference) of the user's ledger rows of ``kind``."""
        sql = "SELECT order_id, amount, reference FROM ledger WHERE user_id = ? AND kind = ? ORDER BY id"
        return await self.rows(sql, USER, kind)  # type: ignore[return-value]

    async def check_books(self) -> None:
        async with self.db.read() as conn:
            assert await ledger.discrepancies(conn) == []
        assert await self.balance() >= 0

    def all_delivered(self) -> bool:
        """Every update queued so far was posted and answered 2xx (they go in order, one at a time)."""
        done = {update for update, status in self.fake.webhook.posts if 200 <= status < 300} | self.posted
        return self.fake.last_update_id in done

    async def says(self, user_id: int, text: str, needle: str, timeout: float = 60) -> str:  # noqa: ASYNC109
        """Write ``text``; the first new message to ``user_id`` containing ``needle``."""
        sent = len(self.fake.messages_to(user_id))
        self.fake.send_message(user_id, text)

        def answer() -> str | None:
            found = [m.get("text", "") for m in self.fake.messages_to(user_id)[sent:] if needle in m.get("text", "")]
            return found[0] if found else None

        return await self.fake.wait_for(answer, timeout=timeout)

    async def confirm_screens(self, count: int) -> list[tuple[int, str]]:
        """``count`` confirmation screens of WhatsApp in the US (deep links), each with a nonce of its own:
        (message id, Confirm's callback data)."""
        newest = max((m["message_id"] for m in self.fake.messages_to(USER)), default=0)
        for _ in range(count):
            self.fake.send_message(USER, "/start whatsapp-US")

        def screens() -> list[tuple[int, str]] | None:
            found = [
                (m["message_id"], data)
                for m in self.fake.messages_to(USER)
                if m["message_id"] > newest and (data := confirm_data(m)) is not None
            ]
            return found if len(found) == count else None

        return await self.fake.wait_for(screens, timeout=120)

    async def confirm_at_once(self, screens: list[tuple[int, str]]) -> None:
        """Tap Confirm on every screen, all taps POSTed through the balancer at the same moment; back once
        every screen became a card or a refusal."""
        await self.fake.wait_for(self.all_delivered, timeout=60)  # nothing else in the queue: no update twice
        queries = [self.fake.press(USER, data, message_id=message_id) for message_id, data in screens]
        updates = self.fake.take_updates()
        assert len(updates) == len(screens)
        statuses = await asyncio.gather(*(self.fake.post_to_webhook(u, secret=SECRET) for u in updates))
        assert set(statuses) == {200}, statuses
        self.posted |= {update["update_id"] for update in updates}
        await self.fake.wait_for(lambda: set(queries) <= self.fake.answered_callbacks(), timeout=120)
        ids = {message_id for message_id, _ in screens}

        def settled() -> bool:
            shown = [m for m in self.fake.messages_to(USER) if m["message_id"] in ids]
            return len(shown) == len(ids) and all(confirm_data(m) is None for m in shown)

        await self.fake.wait_for(settled, timeout=120)

    def code_sends(self, code: str) -> int:
        """How many messages the bot sent to the user's chat with ``code`` in them (the card's edits aside)."""
        return sum(code in str(c.params.get("text", "")) for c in self.fake.calls_of("sendMessage"))

    def deliver(self, upstream_id: str, order_id: int) -> str:
        """The upstream receives the order's SMS; its code."""
        code = f"73{order_id:04d}"
        self.sa.deliver_code(upstream_id, code)
        return code


def confirm_data(message: dict[str, Any]) -> str | None:
    """The callback data of the message's Confirm button, if it has one."""
    for row in message.get("reply_markup", {}).get("inline_keyboard", []):
        for button in row:
            if str(button.get("callback_data", "")).startswith(ConfirmCb.__prefix__ + ":"):
                return str(button["callback_data"])
    return None


def amount(minor: int) -> str:
    """Minor units as /credit takes them: 78 -> "0.78"."""
    return f"{minor // 100}.{minor % 100:02d}"


async def wait_async(condition: Any, timeout: float, what: str = "") -> Any:  # noqa: ASYNC109
    """Poll the coroutine function ``condition`` until it returns something true; that result. ``what`` names
    it in the failure (a lambda has no name of its own)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := await condition()):
        if loop.time() >= deadline:
            raise AssertionError(f"{what or condition.__name__} not met in {timeout} s")
        await asyncio.sleep(0.2)
    return result
