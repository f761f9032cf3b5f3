"""Named crash points for fault tests: ``SMSBOT_CRASH_AT=<name>`` kills the process right there.

The purchase saga records each step before the next begins; the fault tests kill the real bot
process (SIGKILL, no cleanup) at every point in turn, restart it, and check no money was lost or
doubled and no order stayed stuck. Unset in production: a dictionary lookup per step.
"""

from __future__ import annotations

import logging
import os
import signal

logger = logging.getLogger(__name__)

POINTS = ("reserved", "bought", "activated", "sms_stored", "cancelled_upstream", "refunded")


def crash_point(name: str) -> None:
    if os.environ.get("SMSBOT_CRASH_AT") == name:
        logger.warning("crash point %s reached: killing the process", name)
        os.kill(os.getpid(), signal.SIGKILL)
