"""Several numbers from one Confirm: the message each further order's card lives in, and what it shows
when the placing stopped there. The first order's card is the confirmation itself (:mod:`handlers.buy`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.money.billing import Billing
from bot.orders.outcomes import Outcome, Result
from handlers.notifier import Notifier
from handlers.texts import buy as texts

logger = logging.getLogger(__name__)

#: why an order was not placed, said on its own screen (a changed price or terms shows the confirmation again)
NOT_PLACED = (Outcome.INSUFFICIENT, Outcome.TOO_MANY_OPEN, Outcome.TOO_FAST, Outcome.OUT_OF_STOCK)


class Cards:
    """The messages that become the cards of one Confirm's orders: the confirmation itself, then a new
    message for each further number (sent before that order is placed, so its card is kept current)."""

    def __init__(self, query: CallbackQuery, chat_id: int) -> None:
        self.query, self.chat_id = query, chat_id
        self.sent: dict[int, Message] = {}

    async def message(self, i: int) -> int | None:
        if i == 0:
            return self.query.message.message_id if self.query.message else None
        assert self.query.bot is not None
        try:
            self.sent[i] = await self.query.bot.send_message(self.chat_id, texts.placing())
        except TelegramAPIError as exc:  # the order is still placed; its code is pushed as its own message
            logger.info("card message for number %d not sent: %s", i + 1, exc)
            return None
        return self.sent[i].message_id


def _why(result: Result, fmt: Callable[[int], str]) -> str:
    """Why a further number was not placed."""
    if result.outcome is Outcome.PRICE_CHANGED and result.quote is not None:
        return texts.price_went_up(fmt(result.quote.price))
    if result.outcome is Outcome.TERMS_CHANGED:
        return texts.terms_changed()
    return texts.not_placed(result)


async def further(card: Message, i: int, qty: int, result: Result, billing: Billing, notifier: Notifier) -> None:
    """A further number's outcome, on the message sent for it: its card; where the placing stopped, how
    many of ``qty`` were placed and why not more. A duplicate (another tap of the same Confirm is placing
    these) leaves no message behind."""
    if result.outcome is Outcome.DUPLICATE:
        try:
            await card.delete()
        except TelegramAPIError as exc:
            logger.info("placeholder %d not deleted: %s", card.message_id, exc)
        return
    has_card = result.order is not None and result.outcome not in NOT_PLACED
    if has_card:
        assert result.order is not None
        text, markup = await notifier.render(result.order)
        await _edit(card, text, markup)
    if result.outcome is Outcome.PLACED:
        return
    placed = i + (1 if has_card else 0)
    stopped = texts.several_stopped(placed, qty, _why(result, billing.fmt))
    if has_card:
        await card.answer(stopped)
    else:
        await _edit(card, stopped)


async def _edit(card: Message, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Edit the card in place; the poll job may have put the same on it already."""
    try:
        await card.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        if "not modified" not in exc.message:
            raise
