"""Backups and restore: an online copy taken while money moves is whole, verified, and restores to a database
the audit finds in order; restore never replaces a database a bot is using, nor with a copy that fails its check."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.jobs import Jobs
from bot.money.audit import Audit
from bot.money.pricing import Pricing
from bot.notifications import Alert, BackupFailed
from bot.orders.outcomes import Outcome
from bot.runtime.backups import FIRST_RUN_DELAY, ScheduledBackups, backup_command, restore_command
from bot.runtime.metrics import REGISTRY
from bot.settings import Settings
from providers.base import Offer, Purchase
from providers.catalog import Catalog
from providers.demo import DemoProvider
from providers.errors import OutOfStock
from storage.backup import NAME, BackupError, backup_into, backup_name, make_copy
from storage.db import Database, hold_database_lock
from tests.botproc import ROOT
from tests.conftest import add_user, bot_process
from tests.fakes.telegram import FakeTelegram
from tests.order_services import order_service
from tests.test_poll_overrun import Told

PRICE = 59  # US whatsapp from the demo: cost 45 + 30 % markup
USERS = 25  # each buys twice at once: 50 concurrent purchases
BUY_SECONDS = 1.5  # every purchase waits this long for its number: the backup lands while they are in flight

LedgerRows = list[tuple[int, int, int, str]]  # (id, amount, balance_after, reference)


class SlowDemo(DemoProvider):
    """The demo upstream, slow to sell, and out of stock for every fifth buy (that order is refunded)."""

    def __init__(self, in_flight: int) -> None:
        super().__init__(sms_delay_seconds=0)
        self.buys = 0
        self.in_flight = in_flight
        self.busy = asyncio.Event()  # set once ``in_flight`` purchases are charged and waiting for their number

    async def buy(self, offer: Offer) -> Purchase:
        self.buys += 1
        if self.buys >= self.in_flight:
            self.busy.set()
        refuse = self.buys % 5 == 0
        await asyncio.sleep(BUY_SECONDS)
        if refuse:
            raise OutOfStock("sold out", provider=self.name)
        return await super().buy(offer)


def configured(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


def read(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def ledgers(path: Path) -> dict[int, LedgerRows]:
    found: dict[int, LedgerRows] = {}
    for user_id, *row in read(path, "SELECT user_id, id, amount, balance_after, reference FROM ledger ORDER BY id"):
        found.setdefault(user_id, []).append(tuple(row))  # type: ignore[arg-type]
    return found


async def test_a_backup_during_fifty_purchases_restores_to_a_database_the_audit_finds_in_order(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    live = tmp_path / "test.sqlite3"  # the ``db`` fixture's file
    demo = SlowDemo(in_flight=20)
    orders = order_service(db, Catalog([demo]), Pricing(settings), timedelta(minutes=20))
    for user_id in range(100, 100 + USERS):
        await add_user(db, user_id, balance=2 * PRICE + user_id)

    async def buy(user_id: int, n: int) -> Outcome:
        result = await orders.place(
            user_id=user_id, chat_id=user_id, request_key=f"{user_id}:{n}", country="US", service="whatsapp",
            confirmed=PRICE,
        )  # fmt: skip
        return result.outcome

    purchases = asyncio.gather(*(buy(100 + i, n) for i in range(USERS) for n in (1, 2)))

    await asyncio.wait_for(demo.busy.wait(), 60)
    copy = await backup_into(live, tmp_path / "backups", keep=5)
    outcomes = await purchases
    assert outcomes.count(Outcome.PLACED) == 40 and outcomes.count(Outcome.OUT_OF_STOCK) == 10

    # taken mid-flight: the copy has orders still waiting for their number, which all ended since
    copied_orders = dict(read(copy.path, "SELECT id, status FROM orders"))
    final_orders = dict(read(live, "SELECT id, status FROM orders"))
    assert len(copied_orders) >= 20 and "pending" in copied_orders.values()
    assert "pending" not in final_orders.values() and len(final_orders) == 50

    restored = tmp_path / "restored" / "bot.sqlite3"
    assert await asyncio.to_thread(restore_command, configured(settings, database_path=restored), [str(copy.path)]) == 0
    again = await Database.open(restored)
    try:
        report = await Audit(again, Pricing(settings)).run()
    finally:
        await again.close()
    assert report.ok, report.issues

    # every balance is its ledger's sum, and what the live database had after the purchases the copy holds
    balances = dict(read(restored, "SELECT id, balance FROM users"))
    then, now = ledgers(restored), ledgers(live)
    assert set(balances) == set(now) == set(range(100, 100 + USERS))
    for user_id, balance in balances.items():
        rows = then[user_id]
        assert balance == sum(amount for _, amount, _, _ in rows) == rows[-1][2]
        assert now[user_id][: len(rows)] == rows  # the live ledger went on from exactly there
    assert sum(len(rows) for rows in then.values()) < sum(len(rows) for rows in now.values())
    assert not list(restored.parent.glob(".*"))  # no temporary file left next to the restored database


def test_restore_is_refused_while_a_bot_holds_the_database(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = settings.database_path
    asyncio.run(_fresh(database, 500))
    copy = asyncio.run(backup_into(database, tmp_path / "backups", keep=5))
    before = database.read_bytes()
    lock = hold_database_lock(database)  # what a running bot holds
    try:
        assert restore_command(settings, [str(copy.path)]) == 2
    finally:
        lock.close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a bot is running on" in err and "stop it first" in err
    assert database.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backups", "bot.sqlite3", "bot.sqlite3.lock"]


def test_restore_keeps_the_replaced_database_whole_with_what_only_its_wal_held(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = settings.database_path
    asyncio.run(_fresh(database, 500))
    copy = asyncio.run(backup_into(database, tmp_path / "backups", keep=5))
    # a bot killed mid-run: its last commit is only in the -wal next to the file
    writer = sqlite3.connect(database)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("INSERT INTO users (id, username, first_name, language) VALUES (99, 'late', 'Late', 'en')")
    writer.commit()
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for suffix in ("", "-wal"):
        shutil.copyfile(f"{database}{suffix}", crashed / f"bot.sqlite3{suffix}")
    writer.close()
    assert (crashed / "bot.sqlite3-wal").stat().st_size > 0
    crashed_settings = configured(settings, database_path=crashed / "bot.sqlite3")

    assert restore_command(crashed_settings, [str(copy.path)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "(1 users, 1 ledger rows)" in out and "kept as" in out
    kept = list(crashed.glob("bot.sqlite3.before-restore-*"))
    assert len(kept) == 1 and str(kept[0]) in out
    assert read(kept[0], "SELECT id FROM users ORDER BY id") == [(10,), (99,)]  # the WAL's commit kept with it
    assert read(crashed / "bot.sqlite3", "SELECT id, balance FROM users") == [(10, 500)]
    assert sorted(p.name for p in crashed.iterdir() if "before-restore" not in p.name) == [
        "bot.sqlite3",
        "bot.sqlite3.lock",
    ]  # no stale -wal beside the restored file, no temporary file


def test_pruning_keeps_the_newest_and_never_touches_files_it_did_not_make(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    asyncio.run(_fresh(database))
    folder = tmp_path / "backups"
    folder.mkdir()
    strangers = [folder / "notes.txt", folder / "backup-old.sqlite3", folder / "bot.sqlite3"]
    for path in strangers:
        path.write_text("not ours")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = [start + timedelta(hours=6 * i) for i in range(6)]
    for when in times[3:] + times[:3]:  # taken out of order: names, not the order of making, decide
        asyncio.run(backup_into(database, folder, keep=4, now=when))
    ours = sorted(p.name for p in folder.iterdir() if p not in strangers)
    assert ours == [backup_name(when) for when in times[2:]]
    assert all(path.read_text() == "not ours" for path in strangers)


async def _fresh(database: Path, *balances: int) -> None:
    db = await Database.open(database)
    for i, balance in enumerate(balances):
        await add_user(db, 10 + i, balance=balance)
    await db.close()


def _foreign(path: Path) -> None:
    """Some other program's SQLite database."""
    path.unlink()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()


def _tampered(path: Path) -> None:
    """A copy whose cached balance no longer matches its ledger."""
    conn = sqlite3.connect(path)
    conn.execute("UPDATE users SET balance = balance + 1 WHERE id = 10")
    conn.commit()
    conn.close()


def _corrupt(path: Path) -> None:
    """Garbage over the cells of the ledger's index: SQLite opens and copies it; only the check finds it."""
    conn = sqlite3.connect(path)
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE tbl_name = 'ledger' AND type = 'index'").fetchone()
    conn.close()
    data = bytearray(path.read_bytes())
    end = root * page_size
    data[end - 200 : end - 20] = b"\x07" * 180
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (lambda p: p.write_text("name,balance\n"), "is not a database"),
        (_foreign, "not a database of this bot"),
        (_tampered, "balances differ from their ledger sums"),
        (_corrupt, "integrity check failed"),
    ],
    ids=["text", "foreign", "tampered", "corrupt"],
)
def test_restore_refuses_a_file_that_fails_the_check_and_changes_nothing(
    spoil: object, says: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_fresh(settings.database_path, 300, 400))
    bad = tmp_path / "bad.sqlite3"
    asyncio.run(_fresh(bad, *(100 * i for i in range(1, 40))))
    spoil(bad)  # type: ignore[operator]
    before = settings.database_path.read_bytes()
    assert restore_command(settings, [str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("restore failed:") and "nothing was changed" in err
    assert says in err, err
    assert settings.database_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.sqlite3", "bot.sqlite3", "bot.sqlite3.lock"]


def test_cli_backup_of_a_database_failing_its_check_leaves_no_file(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_fresh(settings.database_path, 300))
    _tampered(settings.database_path)
    target = tmp_path / "out" / "copy.sqlite3"
    target.parent.mkdir()
    assert backup_command(settings, [str(target)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("backup failed:") and "balances differ" in err and err.count("\n") == 1
    assert list(target.parent.iterdir()) == []
    target.write_text("keep me")
    with pytest.raises(BackupError, match="already exists"):
        asyncio.run(make_copy(settings.database_path, target))
    assert target.read_text() == "keep me"


class Admins(Told):
    """The Notifications port; ``reachable`` False: nobody got the alert (the network, 429)."""

    def __init__(self) -> None:
        super().__init__()
        self.reachable = True

    async def alert(self, alert: Alert) -> bool:
        await super().alert(alert)
        return self.reachable


async def test_a_failed_scheduled_backup_alerts_the_admins_once_per_episode(settings: Settings, tmp_path: Path) -> None:
    await _fresh(settings.database_path, 100)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the backup folder's parent should be")  # mkdir fails, even as root
    told = Admins()
    job = ScheduledBackups(configured(settings, backup_dir=blocker / "backups", backup_keep=2), told)
    await job.run()
    await job.run()  # still failing: logged, not told again
    assert len(told.alerts) == 1
    alert = told.alerts[0]
    assert isinstance(alert, BackupFailed) and alert.path == str(blocker / "backups")
    assert "cannot create the backup folder" in alert.problem
    blocker.unlink()
    await job.run()  # works again: re-armed
    assert len(list((blocker / "backups").iterdir())) == 1
    job.settings = configured(settings, database_path=tmp_path / "gone.sqlite3", backup_dir=blocker / "backups")
    await job.run()
    assert len(told.alerts) == 2 and "no database file there" in told.alerts[1].problem  # type: ignore[union-attr]


async def test_a_backup_failure_no_admin_got_is_sent_again_at_the_next_run(settings: Settings, tmp_path: Path) -> None:
    told = Admins()
    told.reachable = False  # Telegram down or flood control when the first failure is told
    job = ScheduledBackups(configured(settings, database_path=tmp_path / "gone.sqlite3"), told)
    await job.run()
    await job.run()
    assert len(told.alerts) == 2  # not lost: tried again
    told.reachable = True
    await job.run()
    await job.run()
    await job.run()
    assert len(told.alerts) == 3  # got it once: not repeated
    assert all(isinstance(a, BackupFailed) and "no database file there" in a.problem for a in told.alerts)


def _scheduled(settings: Settings, hours: float) -> Job | None:
    scheduler = AsyncIOScheduler(timezone="UTC")
    jobs = Jobs(None, Told(), None, None, None, configured(settings, backup_interval_hours=hours))  # type: ignore[arg-type]
    jobs.schedule(scheduler)
    return scheduler.get_job("backup")


def test_the_backup_job_is_scheduled_every_interval_and_not_at_all_for_zero(settings: Settings) -> None:
    for hours, expected in ((6.0, timedelta(hours=6)), (0.5, timedelta(minutes=30)), (0.0, None)):
        job = _scheduled(settings, hours)
        assert (job.trigger.interval if job else None) == expected


def test_the_first_backup_after_a_start_is_due_from_the_newest_one_not_from_the_start(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    settings = configured(settings, backup_dir=folder)
    asyncio.run(_fresh(settings.database_path))

    def first_run() -> tuple[datetime, datetime, datetime]:
        before = datetime.now(UTC)
        job = _scheduled(settings, 6.0)
        assert job is not None
        return before, job.next_run_time, datetime.now(UTC)

    before, first, after = first_run()  # none yet: within a minute
    assert before + FIRST_RUN_DELAY <= first <= after + FIRST_RUN_DELAY
    assert REGISTRY.get_sample_value("smsbot_last_backup_timestamp_seconds") == 0

    taken = datetime.now(UTC) - timedelta(hours=2)  # a restart 2 h after the last backup: due in 4 h
    asyncio.run(backup_into(settings.database_path, folder, keep=5, now=taken))
    (folder / "backup-notes.txt").write_text("not ours")
    assert first_run()[1] == taken + timedelta(hours=6)
    assert REGISTRY.get_sample_value("smsbot_last_backup_timestamp_seconds") == taken.timestamp()

    for name in list(folder.iterdir()):
        name.unlink()
    overdue = datetime.now(UTC) - timedelta(hours=30)  # the bot was down for a day: one soon
    asyncio.run(backup_into(settings.database_path, folder, keep=5, now=overdue))
    before, first, after = first_run()
    assert before + FIRST_RUN_DELAY <= first <= after + FIRST_RUN_DELAY

    ahead = datetime.now(UTC) + timedelta(days=3)  # a name from a clock set wrong: never later than an interval
    asyncio.run(backup_into(settings.database_path, folder, keep=5, now=ahead))
    before, first, after = first_run()
    assert before + timedelta(hours=6) <= first <= after + timedelta(hours=6)


def test_cli_backup_into_a_path_ending_with_a_slash_makes_that_folder(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_fresh(settings.database_path, 300))
    folder = tmp_path / "offsite" / "new"
    assert backup_command(settings, [f"{folder}/"]) == 0
    made = list(folder.iterdir())
    assert len(made) == 1 and NAME.match(made[0].name) and str(made[0]) in capsys.readouterr().out
    assert read(made[0], "SELECT id, balance FROM users") == [(10, 300)]


async def test_cli_backup_while_the_real_bot_runs(fake: FakeTelegram, tmp_path: Path) -> None:
    bot = bot_process(fake, tmp_path, ADMIN_IDS="1", BACKUP_DIR=str(tmp_path / "backups"), BACKUP_KEEP="3")
    try:
        await bot.start()
        await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=60)
        fake.send_message(4242, "/start")
        await fake.wait_for(lambda: any("Welcome" in m.get("text", "") for m in fake.messages_to(4242)), timeout=30)
        runs = [await _cli(bot.env, bot.workdir, "backup") for _ in range(4)]
        for code, out, err in runs:
            assert code == 0, err
            assert out.startswith("backup written: ") and out.count("\n") == 1 and "1 users" in out
        made = sorted((tmp_path / "backups").iterdir())
        assert len(made) == 3 and str(made[-1]) in runs[-1][1]  # pruned to BACKUP_KEEP, the newest kept
        code, out, _ = await _cli(bot.env, bot.workdir, "backup", str(tmp_path / "one.sqlite3"))
        assert code == 0 and read(tmp_path / "one.sqlite3", "SELECT id FROM users") == [(4242,)]
        code, _, err = await _cli(bot.env, bot.workdir, "restore", str(made[-1]))
        assert code == 2 and "a bot is running on" in err
        seen = len(fake.messages_to(4242))
        fake.send_message(4242, "/balance")  # the bot never noticed: still answers
        await fake.wait_for(lambda: len(fake.messages_to(4242)) > seen, timeout=30)
    finally:
        assert await bot.stop() == 0
    assert "Traceback" not in bot.output()


async def _cli(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    """``python -m bot <args>`` as an operator runs it next to the bot; exit status, stdout, stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env=env | {"PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


def test_a_restore_failing_at_its_last_step_leaves_the_database_whole_where_it_was(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = settings.database_path
    asyncio.run(_fresh(database, 500))
    copy = asyncio.run(backup_into(database, tmp_path / "backups", keep=5))
    asyncio.run(_add(database, 11, 700))  # newer than the backup: what a lost database would lose
    real_replace = os.replace

    def full_disk(src: object, dst: object) -> None:
        if Path(str(dst)) == database:  # the copy is ready and the old file kept aside: the last step fails
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", full_disk)
    assert restore_command(settings, [str(copy.path)]) == 1
    assert database.is_file()  # never a moment without it: the next start must not create an empty one
    assert read(database, "SELECT id, balance FROM users ORDER BY id") == [(10, 500), (11, 700)]
    assert read(database, "PRAGMA integrity_check") == [("ok",)]
    err = capsys.readouterr().err
    assert err.startswith("restore failed:") and "No space left on device" in err and "unchanged" in err
    assert not list(tmp_path.glob(".bot.sqlite3.*"))  # the unused copy is gone


def test_a_restore_clears_a_stray_journal_left_beside_a_missing_database(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "source.sqlite3"
    asyncio.run(_fresh(source, 300))
    copy = asyncio.run(backup_into(source, tmp_path / "backups", keep=5))
    database = settings.database_path  # gone; what it left is not
    for suffix in ("-wal", "-journal"):
        Path(f"{database}{suffix}").write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + b"\x00" * 512)
    assert restore_command(settings, [str(copy.path)]) == 0
    assert "there was no database before" in capsys.readouterr().out
    assert not [p for p in tmp_path.iterdir() if p.name in ("bot.sqlite3-wal", "bot.sqlite3-journal")]
    assert len(list(tmp_path.glob("bot.sqlite3.before-restore-*-journal"))) == 1  # moved aside, not deleted
    assert read(database, "SELECT id, balance FROM users") == [(10, 300)]


async def _add(database: Path, user_id: int, balance: int) -> None:
    db = await Database.open(database)
    await add_user(db, user_id, balance=balance)
    await db.close()
