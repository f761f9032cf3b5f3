"""Alerts to the admins, each once per episode and re-armed only after the condition cleared: a spike of
handler errors, a poll cycle that stopped finishing, Telegram unreachable (told once it answers again).
Time is a clock the tests move, never a sleep."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any, cast

import pytest
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import GetMe
from aiogram.types import ErrorEvent, Update
from aiogram.utils.i18n import I18n

from bot.app import LOCALES
from bot.jobs import Jobs
from bot.notifications import Alert, BackupFailed, HandlerErrors, PollLagging, TelegramUnreachable
from bot.runtime.episodes import Episode, ErrorSpike, PollHeartbeat
from bot.runtime.telegram_contact import KEEPALIVE_AFTER, TelegramContact, TelegramWatch
from bot.settings import Settings
from handlers.errors import on_error
from handlers.texts.alerts import alert_text
from storage.db import DatabaseGone
from tests.inprocess import live_bot

ADMIN, USER = 1, 4242


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """The admins' side of :class:`bot.notifications.Notifications`: what they were told. ``reachable``
    False: every alert reaches nobody (the network, flood control), as ``Notifier.alert`` then says."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.reachable = True

    async def alert(self, alert: Alert) -> bool:
        self.alerts.append(alert)
        return self.reachable


def test_an_episode_is_told_once_and_re_armed_when_it_clears() -> None:
    episode = Episode()
    assert [episode.begins(c) for c in (False, True, True, True, False, False, True, True)] == [
        False,
        True,
        False,
        False,
        False,
        False,
        True,
        False,
    ]


def test_an_alert_that_reached_nobody_is_due_again_until_one_gets_it_or_the_condition_clears() -> None:
    episode = Episode()
    assert episode.due(True)
    episode.sent(False)  # nobody got it
    assert [episode.due(True) for _ in range(2)] == [True, True]
    episode.sent(True)
    assert [episode.due(True) for _ in range(3)] == [False, False, False]  # told: once per episode
    assert episode.due(True) is False
    assert episode.due(False) is False
    assert episode.due(True)
    episode.sent(False)
    assert episode.due(False) is False  # cleared before anyone got it: nothing left to tell
    assert episode.due(True) and not episode.pending  # a new episode, told as such


# -- handler errors ------------------------------------------------------------------------------------


def test_more_errors_than_the_threshold_in_five_minutes_alert_once() -> None:
    clock = Clock()
    spike = ErrorSpike(threshold=3, clock=clock)
    told = []
    for _ in range(10):
        told.append(spike.record())
        clock.now += 1
    assert told[:3] == [None, None, None]
    assert told[3] == HandlerErrors(count=4, minutes=5)
    assert told[4:] == [None] * 6  # the same episode


def test_the_spike_is_re_armed_once_the_count_falls_under_the_threshold() -> None:
    clock = Clock()
    spike = ErrorSpike(threshold=3, clock=clock)
    assert [spike.record() for _ in range(4)][-1] is not None
    clock.now += 301  # the window emptied: the episode is over
    assert [spike.record() for _ in range(3)] == [None, None, None]
    assert spike.record() == HandlerErrors(count=4, minutes=5)  # a new spike: told again


def test_a_rate_hovering_just_above_the_threshold_stays_one_episode() -> None:
    clock = Clock()
    spike = ErrorSpike(threshold=3, clock=clock)
    told = []
    for _ in range(40):  # one every 60 s: always 4 or 5 in the window, never under 3
        told.append(spike.record())
        clock.now += 60
    assert [t for t in told if t is not None] == [HandlerErrors(count=4, minutes=5)]


def test_errors_spread_wider_than_the_window_never_alert() -> None:
    clock = Clock()
    spike = ErrorSpike(threshold=3, clock=clock)
    for _ in range(50):
        assert spike.record() is None
        clock.now += 101  # at most 3 in any 5 minutes


async def test_the_error_handler_counts_failures_and_alerts_the_admins_once() -> None:
    spike, admins = ErrorSpike(threshold=2), Recorder()
    notifier = cast(Any, admins)

    async def fail(error: Exception) -> None:
        event = ErrorEvent(update=Update(update_id=1), exception=error)
        with I18n(path=LOCALES, default_locale="en", domain="messages").context():
            assert await on_error(event, error_spike=spike, notifier=notifier) is True

    for _ in range(5):
        await fail(DatabaseGone("deleted"))  # under maintenance: alerted as such, not counted here
    assert admins.alerts == []
    for _ in range(6):
        await fail(RuntimeError("boom"))
    assert admins.alerts == [HandlerErrors(count=3, minutes=5)]


async def test_a_spike_alert_nobody_got_is_sent_again_with_the_next_error_until_one_gets_it() -> None:
    spike, admins = ErrorSpike(threshold=2), Recorder()
    admins.reachable = False
    notifier = cast(Any, admins)

    async def fail() -> None:
        event = ErrorEvent(update=Update(update_id=1), exception=RuntimeError("boom"))
        with I18n(path=LOCALES, default_locale="en", domain="messages").context():
            await on_error(event, error_spike=spike, notifier=notifier)

    for _ in range(4):
        await fail()
    assert admins.alerts == [HandlerErrors(count=3, minutes=5)] * 2  # the 3rd and the 4th error: not lost
    admins.reachable = True
    for _ in range(4):
        await fail()
    assert len(admins.alerts) == 3  # got it with the 5th: not repeated for the same spike


async def test_the_real_dispatcher_alerts_the_admin_once_when_handlers_keep_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with live_bot(tmp_path, error_alert_threshold=2) as live:
        await live.say(USER, "/start")

        async def broken(user_id: int) -> int:
            raise RuntimeError("the balance query broke")

        monkeypatch.setattr(live.dp["billing"], "balance", broken)
        for _ in range(6):
            await live.say(USER, "/balance")
        failed = [m for m in live.fake.messages_to(USER) if "Something went wrong" in m.get("text", "")]
        told = [m["text"] for m in live.fake.messages_to(ADMIN) if "failed in handlers" in m.get("text", "")]
    assert len(failed) == 6  # every user was told
    assert told == [
        "⚠️ Updates that failed in handlers in the last 5 min: 3, more than ERROR_ALERT_THRESHOLD. Each error is "
        "in the log. You are told again only after the rate falls."
    ]


# -- the poll cycle ------------------------------------------------------------------------------------


async def test_a_poll_cycle_that_stops_finishing_is_told_once_until_a_run_finishes(settings: Settings) -> None:
    admins = Recorder()
    jobs = Jobs(cast(Any, None), cast(Any, admins), cast(Any, None), cast(Any, None), cast(Any, None), settings)
    clock = Clock()
    jobs.heartbeat = PollHeartbeat(settings.poll_interval_seconds, clock)  # 5 s: 15 s without a run is a lag
    await jobs.watch_poll()
    assert admins.alerts == []  # not scheduled yet: nothing expected
    jobs.heartbeat.start()
    clock.now += 15
    await jobs.watch_poll()
    assert admins.alerts == []  # a fresh start counts from the start, and 15 s is within the limit
    clock.now += 1
    for _ in range(5):
        await jobs.watch_poll()
        clock.now += 5
    assert admins.alerts == [PollLagging(seconds=16, interval=5.0)]
    jobs.heartbeat.finish()  # a run finished: cleared, armed again
    await jobs.watch_poll()
    clock.now += 20
    await jobs.watch_poll()
    assert admins.alerts[1:] == [PollLagging(seconds=20, interval=5.0)]


async def test_a_poll_lag_alert_nobody_got_is_sent_again_at_each_check_until_one_gets_it(settings: Settings) -> None:
    admins = Recorder()
    admins.reachable = False
    jobs = Jobs(cast(Any, None), cast(Any, admins), cast(Any, None), cast(Any, None), cast(Any, None), settings)
    clock = Clock()
    jobs.heartbeat = PollHeartbeat(settings.poll_interval_seconds, clock)
    jobs.heartbeat.start()
    clock.now += 16
    for _ in range(3):
        await jobs.watch_poll()
        clock.now += 5
    assert admins.alerts == [PollLagging(seconds=s, interval=5.0) for s in (16, 21, 26)]  # each with its lag
    admins.reachable = True
    for _ in range(3):
        await jobs.watch_poll()
        clock.now += 5
    assert admins.alerts[3:] == [PollLagging(seconds=31, interval=5.0)]


# -- Telegram ------------------------------------------------------------------------------------------


class FlakyTelegram:
    """getMe through the recorder's eyes: answered while up, a network error while down."""

    def __init__(self, contact: TelegramContact) -> None:
        self.contact = contact
        self.up = True
        self.calls: list[float] = []
        self.answers: list[float] = []

    async def get_me(self, request_timeout: int | None = None) -> object:
        self.calls.append(self.contact.clock())
        if not self.up:
            self.contact.failed("TelegramNetworkError")
            raise TelegramNetworkError(GetMe(), "refused")
        self.contact.answered()
        self.answers.append(self.contact.clock())
        return object()


async def test_telegram_unreachable_is_told_once_it_answers_again_with_how_long() -> None:
    clock = Clock()
    contact = TelegramContact(clock)
    contact.answered()
    telegram, admins = FlakyTelegram(contact), Recorder()
    watch = TelegramWatch(cast(Any, telegram), contact, cast(Any, admins))

    clock.now += KEEPALIVE_AFTER - 1
    await watch.tick()
    assert telegram.calls == []  # answered lately: no keep-alive
    clock.now += 1
    await watch.tick()
    assert telegram.calls == [1020.0]  # the keep-alive, answered

    telegram.up = False
    for _ in range(30):  # 150 s down, a tick every 5 s
        clock.now += 5
        await watch.tick()
    asked = telegram.calls[1:]
    assert asked and all(b - a >= KEEPALIVE_AFTER for a, b in itertools.pairwise(asked))  # not every tick
    assert admins.alerts == []  # nothing to tell while it is down (nor any way to)

    telegram.up = True
    for _ in range(10):  # the next keep-alive finds it back (a poll or any other call would as well)
        clock.now += 5
        await watch.tick()
    back = telegram.answers[1]  # the first answer after the outage
    assert back - asked[-1] >= KEEPALIVE_AFTER
    assert admins.alerts == [TelegramUnreachable(seconds=int(back - 1020.0), error="TelegramNetworkError")]
    assert len(admins.alerts) == 1  # one outage, one alert


def test_an_outage_at_start_counts_from_the_start_and_short_gaps_are_no_outage() -> None:
    clock = Clock()
    contact = TelegramContact(clock)
    contact.failed("TelegramServerError")
    clock.now += 90
    contact.answered()
    outage = contact.untold_outage()
    assert outage == TelegramUnreachable(seconds=90, error="TelegramServerError")
    contact.told(outage)
    assert contact.untold_outage() is None
    clock.now += 59
    contact.answered()
    assert contact.untold_outage() is None


async def test_an_outage_alert_nobody_got_is_sent_again_at_the_next_tick_then_never() -> None:
    clock = Clock()
    contact = TelegramContact(clock)
    telegram, admins = FlakyTelegram(contact), Recorder()
    watch = TelegramWatch(cast(Any, telegram), contact, cast(Any, admins))
    contact.failed("TelegramNetworkError")
    clock.now += 90
    contact.answered()  # back, but the alert meets flood control
    admins.reachable = False
    await watch.tick()
    await watch.tick()
    admins.reachable = True
    for _ in range(3):
        await watch.tick()
    assert admins.alerts == [TelegramUnreachable(seconds=90, error="TelegramNetworkError")] * 3


async def test_the_notifier_says_an_alert_is_settled_only_when_an_admin_got_it_or_all_refuse_for_good(
    tmp_path: Path,
) -> None:
    async with live_bot(tmp_path) as live:
        notifier = dataclasses.replace(live.dp["notifier"], admin_ids=frozenset({ADMIN, 2}))
        alert = BackupFailed("/data/backups", "disk full")
        live.fake.block_user(ADMIN)  # 403: this one never gets anything
        live.fake.inject_error("sendMessage", error_code=429, description="Too Many Requests", chat_id=2)
        assert await notifier.alert(alert) is False  # the other one may get it later: try again
        live.fake.inject_error("sendMessage", error_code=502, description="Bad Gateway", chat_id=2, times=1)
        assert await notifier.alert(alert) is False
        live.fake.inject_error("sendMessage", error_code=400, description="Bad Request: chat not found", chat_id=2)
        assert await notifier.alert(alert) is True  # both refuse for good: no retrying for ever
        assert await notifier.alert(alert) is True  # admin 2 got it
        assert [m["text"] for m in live.fake.messages_to(2) if "disk full" in m.get("text", "")] != []


# -- what the admins read ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alert", "english", "figures"),
    [
        (HandlerErrors(count=21, minutes=5), "in the last 5 min: 21", ["21", "ERROR_ALERT_THRESHOLD"]),
        (BackupFailed("/data/<b>.sqlite3", "integrity <ok?>"), "backup failed", ["&lt;ok?&gt;", "/data/&lt;b&gt;"]),
        (TelegramUnreachable(3725, "<Bad Gateway>"), "for 1:02:05 (h:mm:ss)", ["1:02:05", "&lt;Bad Gateway&gt;"]),
        (PollLagging(seconds=16, interval=5.0), "for 16 s (interval 5 s)", ["16", "5"]),
    ],
)
def test_the_admins_read_each_new_alert_with_its_figures_escaped(
    alert: Alert, english: str, figures: list[str]
) -> None:
    i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
    with i18n.context():
        text = alert_text(alert)
        with i18n.use_locale("ru"):
            translated = alert_text(alert)
    assert english in text and "<b>" not in text and "<Bad" not in text and "<ok" not in text, text
    assert translated != text, translated  # the admin's language, not English
    assert all(figure in text and figure in translated for figure in figures), (text, translated)
