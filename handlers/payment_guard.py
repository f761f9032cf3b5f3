"""The last trace of a Stars payment whose update failed before it was stored.

:class:`PaymentGuard` goes on the dispatcher's update observer before the user middleware: when a
``successful_payment`` update fails before (or outside) :func:`handlers.payments.paid` — the user's
record cannot be written because the database is down — it is the one that logs the charge id and
tells the admins.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import Message, SuccessfulPayment, TelegramObject, Update
from aiogram.utils.i18n import I18n

from bot.money.stars import Credit, CreditResult, Payments
from handlers.middlewares import Handler, locale_for
from handlers.notifier import Notifier
from handlers.texts import payments as texts

logger = logging.getLogger(__name__)


class PaymentGuard(BaseMiddleware):
    """Telegram never sends a ``successful_payment`` update again. When its processing raises (typically
    the user's record cannot be written because the database is down, before the payment handler even
    runs) and the payment is not in the database, the charge id and user id go to the log at ERROR and to
    the admins, and the user is told the truth instead of "try again"."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        message = event.message if isinstance(event, Update) else None
        sp = message.successful_payment if message is not None else None
        if message is None or sp is None:
            return await handler(event, data)
        try:
            return await handler(event, data)
        except Exception as exc:
            user_id = message.from_user.id if message.from_user else message.chat.id
            charge = sp.telegram_payment_charge_id
            error = f"{type(exc).__name__}: {exc}"[:200]
            if await _stored(data, charge):
                logger.error("stars payment %s of user %d is stored, but its update failed: %s", charge, user_id, error)
                raise
            logger.error(
                "stars payment %s of user %d (%d %s, payload %r) NOT STORED and not credited: %s",
                charge,
                user_id,
                sp.total_amount,
                sp.currency,
                sp.invoice_payload[:64],
                error,
            )
            await _alert(message, sp, data, user_id, error)
            return None


async def _stored(data: dict[str, Any], charge: str) -> bool:
    payments: Payments = data["payments"]
    try:
        return await payments.stored(charge)
    except Exception:  # the database cannot even answer: take it as not stored
        return False


async def _alert(message: Message, sp: SuccessfulPayment, data: dict[str, Any], user_id: int, error: str) -> None:
    """Best effort: nothing here may raise, the log line is already written."""
    try:
        i18n: I18n = data["i18n"]
        notifier: Notifier = data["notifier"]
        bot: Bot = data["bot"]
        result = CreditResult(Credit.UNSTORED, error=error)
        named = texts.facts(sp, user_id, error)
        language = message.from_user.language_code if message.from_user else None
        with i18n.context(), i18n.use_locale(locale_for(i18n, language)):  # the database is not asked: it failed
            user_text = texts.failure_for_user(result, named)
        await bot.send_message(message.chat.id, user_text)  # the payer first
        await notifier.tell_admins(lambda: texts.failure_for_admins(result, named), database=False)
    except Exception:
        logger.warning("stars payment %s: could not alert the admins or the user", sp.telegram_payment_charge_id)
