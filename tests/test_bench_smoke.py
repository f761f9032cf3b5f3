"""The throughput, memory and replica benchmarks at a tiny size, so that they cannot rot: the bare bot and the
real bot process answer every step of the load, the memory run polls and answers, every Confirm of the replica
bench places an order in the database it names, and the figures are printed. Timings are the benchmarks'
business; this checks only that they measure what they say."""

from __future__ import annotations

import re

import pytest

from bench import memory, replicas, throughput
from tests import backend


def figures(printed: str, name: str) -> dict[str, str]:
    line = next(line for line in printed.splitlines() if line.startswith(f"{name}: "))
    return dict(pair.split("=", 1) for pair in line.removeprefix(f"{name}: ").split(", "))


def test_the_load_walks_each_bot_to_its_last_screen() -> None:
    assert [step.expect for step in throughput.shop_steps(1)] == ["Buy a number", "Indonesia", "Telegram", "Back"]
    assert [step.tap for step in throughput.bare_steps(19)] == [None, None, "Option 9", "Option 0"]


async def test_throughput_prints_both_bots_and_the_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    await throughput.main(users=3, rounds=1)

    found = figures(capsys.readouterr().out, "throughput")
    assert found["unanswered"] == "0"  # every step of every user was answered by both bots
    for key in ("updates_per_s", "cpu_ms_per_update", "core_share"):
        for bot in ("bare", "shop"):
            assert re.fullmatch(r"[\d.]+ \([\d.]+–[\d.]+\)", found[f"{bot}_{key}"]), (bot, key, found)
    assert re.fullmatch(r"[\d.]+ \(goal ≥ 1\.0\)", found["ratio_throughput"])
    assert re.fullmatch(r"[\d.]+ \(goal ≤ 1\.0\)", found["ratio_cpu_per_update"])


async def test_memory_samples_the_polling_bot_while_it_answers(capsys: pytest.CaptureFixture[str]) -> None:
    await memory.main(users=300, orders=30, seconds=2, rate=20)

    found = figures(capsys.readouterr().out, "memory")
    assert found["users"] == "300" and found["open_orders"] == "30"
    replies, updates = found["answered"].split("/")
    assert int(updates) > 0 and replies == updates  # one message for each update handed to the bot
    assert re.search(r"get(ActiveActivations|Status):\d+", found["upstream_requests"])  # the poll job ran
    assert 0 < float(found["start_mib"]) <= float(found["peak_mib"]) and float(found["end_mib"]) <= float(
        found["peak_mib"]
    )
    assert re.fullmatch(r"(\d+ ){10}\d+", found["trend_mib"])
    assert re.fullmatch(r"[-+]\d+\.\d \(goal: flat\)", found["growth_mib"])
    assert re.fullmatch(r"[\d.]+ \(goal < 1\.0 of 250 MiB\)", found["ratio_peak_to_goal"])


def assert_every_confirm_bought(found: dict[str, str], users: int, errors: str = "") -> None:
    assert (found["bought"], found["failed"]) == (str(users), "0")  # one round of ``users`` Confirms
    assert int(found["orders_in_db"]) == int(found["warm_up"]) + users  # and each order is in that database
    assert found["bot_tracebacks"] == "0", errors  # the replica's own traceback, printed to stderr
    assert re.fullmatch(r"[\d.]+ \([\d.]+–[\d.]+\)", found["purchases_per_s"]), found


async def test_replicas_without_postgresql_measure_sqlite_and_say_why_not_the_rest(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    await replicas.main(users=3, rounds=1, orders=100, start=False)

    printed = capsys.readouterr().out
    assert "replicas: PostgreSQL skipped (TEST_DATABASE_URL is unset); SQLite only" in printed
    assert_every_confirm_bought(figures(printed, "replicas.purchases sqlite x1"), 3)
    assert "replicas.purchases postgresql" not in printed and "replicas.poll_cycle" not in printed


@pytest.mark.postgres
@pytest.mark.skipif(not backend.ON_POSTGRES, reason="the PostgreSQL figures run in the PostgreSQL pass")
async def test_replicas_on_postgresql_split_the_purchases_and_the_poll_cycle(
    capsys: pytest.CaptureFixture[str],
) -> None:
    await replicas.main(users=4, rounds=1, orders=400)

    printed, errors = capsys.readouterr()
    for name in ("sqlite x1", "postgresql x1", "postgresql x2"):
        assert_every_confirm_bought(figures(printed, f"replicas.purchases {name}"), 4, errors)
    assert all(
        int(n) > 0 for n in figures(printed, "replicas.purchases postgresql x2")["requests_per_replica"].split("/")
    )
    assert re.search(r"^replicas: PostgreSQL 2 replicas / 1 replica: [\d.]+ \(ideal 2\.00", printed, re.M)
    poll = figures(printed, "replicas.poll_cycle")
    assert poll["one_replica_polled"] == "400"
    shares = [int(n) for n in poll["two_replicas_polled"].split("/")]
    assert sum(shares) == 400 and min(shares) > 0 and poll["lease_holders"] == "2"  # each polled its share
    assert re.fullmatch(r"[\d.]+/[\d.]+ \(goal ≤ 1\.0\)", poll["two_replicas_ratio_to_interval"])
