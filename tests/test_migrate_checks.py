"""The checks of ``python -m bot migrate-to``: they read the copy back, so a copy that differs from the
source in any row, balance or ledger total fails its line. In-process, so that the copy can be tampered
with between the copy and the checks. PostgreSQL pass only (it needs a server).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime.migrate_to import check_copy
from bot.settings import Settings
from storage.copy import copy_shop
from storage.db import Database
from storage.postgres import PostgresDatabase
from tests import backend
from tests.conftest import add_user

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not backend.ON_POSTGRES, reason="the PostgreSQL pass runs it (TEST_BACKEND=postgresql)"),
]

BUYER, INVITER = 500, 9_000


async def test_the_checks_catch_a_copy_that_differs(
    tmp_path: Path, settings: Settings, bare_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A changed name, a balance moved behind the ledger's back, a ledger row more: each fails its line."""
    source = await Database.open(tmp_path / "shop.sqlite3")
    await add_user(source, BUYER, balance=250)
    await add_user(source, INVITER, balance=40)
    target = await PostgresDatabase.open(bare_database, pool_size=2)
    try:
        async with source.read() as sconn, target.transaction() as tconn:
            copied = await copy_shop(sconn, tconn.raw)
        assert await check_copy(settings, source, target, copied) == 0
        assert capsys.readouterr().out.count("ok    ") == 5

        async with target.transaction() as conn:
            await conn.execute("UPDATE users SET first_name = 'Mallory' WHERE id = ?", (INVITER,))
        assert await check_copy(settings, source, target, copied) == 1
        assert "FAILED rows: users differs" in capsys.readouterr().out

        async with target.transaction() as conn:
            await conn.execute("UPDATE users SET balance = balance + 5 WHERE id = ?", (BUYER,))
            await conn.execute(
                "INSERT INTO ledger (user_id, amount, balance_after, kind, reference) VALUES (?, 1, 41, 'x', 'x')",
                (INVITER,),
            )
        assert await check_copy(settings, source, target, copied) == 5
        out = capsys.readouterr().out
        assert (
            f"FAILED balances: 2 of 2 users differ from their ledger rows; user {BUYER}: balance 255, ledger 250" in out
        )
        assert f"FAILED row counts: {len(copied.tables)} tables, 7 rows; ledger 2 -> 3" in out
        assert "FAILED rows: users differs; ledger differs" in out
        assert "FAILED ledger total: 3 rows summing to 291 (SQLite: 2 rows summing to 290)" in out
        assert "FAILED audit:" in out and f"balance {BUYER}" in out
    finally:
        await target.close()
        await source.close()
