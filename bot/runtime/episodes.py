"""Conditions that alert the admins once per episode: a spike of handler errors, a poll cycle that stopped.

An alert repeated on every check would bury the admins, and one sent only ever once would hide the next
outage. So each watcher tells the start of an episode once, and is re-armed only after the condition
cleared. The clocks are injected (``time.monotonic`` by default) so tests step time instead of sleeping.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

from bot.notifications import HandlerErrors

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

#: the window handler errors are counted in
ERROR_WINDOW_SECONDS = 300.0
#: the poll check never asks for less than this, whatever the interval: a sub-second interval would
#: otherwise turn one busy second of the event loop into an outage
MIN_POLL_LAG_SECONDS = 10.0
#: how many poll intervals may pass without a finished run
POLL_LAG_INTERVALS = 3


class Episode:
    """Once per episode: :meth:`begins` is True for the first observation of the condition, then False
    until an observation without it re-arms.

    An alert that reached nobody (``Notifications.alert`` returned False: network, 429) is not lost:
    after :meth:`sent` with False, :meth:`due` says to send it again at each observation of the condition,
    until one reaches an admin (or the condition clears: then there is nothing left to tell)."""

    def __init__(self) -> None:
        self.active = False
        self.pending = False  # the condition holds and its alert reached nobody yet

    def begins(self, condition: bool) -> bool:
        if not condition:
            self.active = self.pending = False
            return False
        if self.active:
            return False
        self.active = True
        return True

    def due(self, condition: bool) -> bool:
        """Whether to send the episode's alert now: when it begins, and again while it is pending."""
        return self.begins(condition) or (condition and self.pending)

    def sent(self, delivered: bool) -> None:
        """What became of the alert :meth:`due` asked for: False keeps it pending."""
        self.pending = self.active and not delivered


class ErrorSpike:
    """Counts handler errors in a sliding window; more than ``threshold`` of them starts an episode.

    It ends when the count falls under the threshold. Between two errors the count in the window can
    only fall, so looking at it just before each new error is enough: no timer is needed. A rate
    hovering just above the threshold (each new error replacing one that leaves the window) stays one
    episode, since the count never falls under the threshold.
    """

    def __init__(self, threshold: int, window: float = ERROR_WINDOW_SECONDS, clock: Clock = time.monotonic) -> None:
        self.threshold = threshold
        self.window = window
        self.clock = clock
        self._times: deque[float] = deque(maxlen=threshold + 1)  # more are never needed to decide
        self._episode = Episode()

    def count(self) -> int:
        """Errors in the window now (at most ``threshold + 1``)."""
        horizon = self.clock() - self.window
        while self._times and self._times[0] <= horizon:
            self._times.popleft()
        return len(self._times)

    def record(self) -> HandlerErrors | None:
        """One more handler error; the alert to send if it starts an episode (or its alert is pending)."""
        if self.count() < self.threshold:
            self._episode.begins(False)  # fell under the threshold since the last error: re-armed
        self._times.append(self.clock())
        count = len(self._times)
        retry = self._episode.pending
        if not self._episode.due(count > self.threshold):
            return None
        if not retry:
            logger.warning("%d handler errors within %g s: the admins are told", count, self.window)
        return HandlerErrors(count=count, minutes=round(self.window / 60))

    def sent(self, delivered: bool) -> None:
        """What became of the alert :meth:`record` returned: one that reached nobody is returned again with
        the next error while the spike lasts."""
        self._episode.sent(delivered)


class PollHeartbeat:
    """When the poll job last finished a run. Until the first run, the time it was scheduled counts, so a
    fresh start is not a lag; before it is scheduled, there is nothing to measure (``None``)."""

    def __init__(self, interval: float, clock: Clock = time.monotonic) -> None:
        self.interval = interval
        self.limit = max(POLL_LAG_INTERVALS * interval, MIN_POLL_LAG_SECONDS)
        self.clock = clock
        self.started: float | None = None
        self.finished: float | None = None

    def start(self) -> None:
        """The poll job was scheduled: from now on a run is expected."""
        self.started = self.clock()

    def finish(self) -> None:
        """A poll run finished (it did not raise)."""
        self.finished = self.clock()

    def lag(self) -> float | None:
        """Seconds since the last finished run (or the start when none yet); None before the start."""
        since = self.finished if self.finished is not None else self.started
        return None if since is None else self.clock() - since

    def lagging(self) -> bool:
        lag = self.lag()
        return lag is not None and lag > self.limit
