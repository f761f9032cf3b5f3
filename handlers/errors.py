"""One place for errors no handler caught: log them, tell the user, answer the tap, and count them: more
than ERROR_ALERT_THRESHOLD within 5 minutes alerts the admins once (:class:`bot.runtime.episodes.ErrorSpike`)."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.types import ErrorEvent

from bot.notifications import Notifications
from bot.runtime.episodes import ErrorSpike
from handlers.callback_answers import TapAnswer
from handlers.texts.alerts import maintenance_text
from handlers.texts.refusals import failed
from storage.db import DatabaseGone

logger = logging.getLogger(__name__)

router = Router(name=__name__)


@router.error()
async def on_error(
    event: ErrorEvent,
    callback_answer: TapAnswer | None = None,
    error_spike: ErrorSpike | None = None,
    notifier: Notifications | None = None,
) -> bool:
    if isinstance(event.exception, TelegramForbiddenError):  # the user blocked the bot meanwhile: nobody to tell
        logger.info("update %s: the user blocked the bot: %s", event.update.update_id, event.exception.message)
        return True
    if isinstance(event.exception, DatabaseGone):  # known and alerted once: no traceback per update
        logger.warning("update %s refused, under maintenance: %s", event.update.update_id, event.exception)
        text = maintenance_text()
    else:
        logger.error("update %s failed: %r", event.update.update_id, event.exception, exc_info=event.exception)
        text = failed()
    checkout = event.update.pre_checkout_query
    try:
        if callback_answer is not None:  # a tap: sent once the error handlers are done (handlers.callback_answers)
            callback_answer.alert(text)
        elif checkout is not None:  # refused at once: no Stars are taken for a payment we cannot store
            await checkout.answer(ok=False, error_message=text[:255])
        elif event.update.message is not None:
            await event.update.message.answer(text)
    except Exception:  # the error report itself must never raise
        logger.warning("could not tell the user about the error", exc_info=True)
    if not isinstance(event.exception, DatabaseGone):  # the user first: a checkout waits for its answer
        await _count(error_spike, notifier)
    return True


async def _count(error_spike: ErrorSpike | None, notifier: Notifications | None) -> None:
    """One more handler error; the admins are told when it starts a spike."""
    if error_spike is None or (spike := error_spike.record()) is None or notifier is None:
        return
    delivered = False
    try:
        delivered = await notifier.alert(spike)
    except Exception:  # the error report itself must never raise
        logger.warning("could not alert the admins to the handler errors", exc_info=True)
    error_spike.sent(delivered)  # nobody got it: sent again with the next error while the spike lasts
