"""Issue #9: random updates of every type through the real dispatcher break nothing.

10,000 seeded random updates (:mod:`tests.fuzz_updates`) go through ``Dispatcher.feed_update`` of the real
:func:`bot.app.build_dispatcher` over an in-memory Bot API: texts, commands with random arguments, callback
queries (random data, every ``CallbackData`` class with random values, the bot's own buttons), media, edited
messages, block / unblock, groups and channels, payments with right and wrong payloads and replayed charge ids,
every other update type, and flows a user sets out on (buy, top up, broadcast...) woven in between. Then: no
exception escaped the dispatcher or a job, nothing was logged at ERROR (the error router logs every handler
exception there), the audit finds no issue, every balance equals its ledger, every successful payment is
stored, every callback and pre-checkout query was answered.

A failure lists each distinct error with its traceback and the updates that trigger it, as JSON.
``FUZZ_UPDATES`` and ``FUZZ_SEED`` change the run; ``make bench`` runs a longer one (``bench/fuzz.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fuzz_updates import fuzz_bot, run_fuzz

UPDATES = int(os.environ.get("FUZZ_UPDATES", "10000"))
SEED = int(os.environ.get("FUZZ_SEED", "9"))


async def test_random_updates_of_every_type_break_nothing(tmp_path: Path) -> None:
    async with fuzz_bot(tmp_path) as harness:
        report = await run_fuzz(harness, UPDATES, SEED)
    print(report.summary())
    if report.problems():
        pytest.fail(f"{report.summary()}\n\n{report.details()}", pytrace=False)
    if UPDATES < 5000:
        return
    # the run went deep enough to mean something: money moved every way it can
    for kind in ("topup", "admin_credit", "purchase", "refund", "promo"):
        assert report.stats["ledger"].get(kind), f"no {kind!r} in the ledger: the fuzz no longer reaches it"
    assert report.api_calls["answerPreCheckoutQuery"] and report.api_calls["copyMessage"], report.summary()
