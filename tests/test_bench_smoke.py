"""The throughput and memory benchmarks at a tiny size, so that they cannot rot: the bare bot and the real
bot process answer every step of the load, the memory run polls and answers, and the figures are printed.
Timings are the benchmarks' business; this checks only that they measure what they say."""

from __future__ import annotations

import re

import pytest

from bench import memory, throughput


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
