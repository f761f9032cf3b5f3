"""Telegram output of the services (:class:`bot.notifications.Notifications`): order news in the user's chat
(each new SMS as its own message, the card kept current), alerts to the admins, late receipts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from bot import languages
from bot.money.billing import Billing
from bot.notifications import Alert, DatabaseUnusable
from bot.orders.actions import OrderActions
from bot.orders.placing import OrderService
from bot.people import People
from bot.runtime.log_context import binds_order
from handlers import keyboards
from handlers.texts.alerts import alert_text, receipt
from handlers.texts.limits import SHORT_SMS_CHARS, TEXT_LIMIT
from handlers.texts.orders import code_message, order_card
from storage.orders import Order, OrderSms
from storage.payments import Payment

logger = logging.getLogger(__name__)


@dataclass
class Notifier:
    bot: Bot
    i18n: I18n
    orders: OrderService
    actions: OrderActions  # the card's buttons
    billing: Billing  # amounts as the user reads them
    people: People  # the reader's language; who blocked the bot
    admin_ids: frozenset[int]

    async def render(self, order: Order, sms: list[OrderSms] | None = None) -> tuple[str, InlineKeyboardMarkup]:
        """The order card's text and buttons (call inside an i18n context)."""
        sms = sms if sms is not None else await self.orders.sms(order.id)
        text = order_card(order, sms, self.billing.fmt, demo=self.orders.is_demo(order))
        flags = self.actions.card_flags(order)
        return text, keyboards.order_card(order, **flags)

    async def _locale(self, user_id: int) -> str:
        user = await self.people.get(user_id)
        return languages.of_user(user, self.i18n.available_locales, self.i18n.default_locale)

    @binds_order
    async def deliver(self, order: Order) -> None:
        """Send every SMS not yet delivered, then refresh the order card. Safe to call repeatedly."""
        chat_id = order.chat_id or order.user_id
        demo = self.orders.is_demo(order)
        sms = await self.orders.sms(order.id)
        with self.i18n.context(), self.i18n.use_locale(await self._locale(order.user_id)):
            for item in sms:
                if item.delivered:
                    continue
                try:
                    await self._send_sms(chat_id, order, item, demo)
                except TelegramForbiddenError:
                    logger.info("user %d blocked the bot; SMS of order %d kept", order.user_id, order.id)
                    await self.people.mark_blocked(order.user_id)
                    return
                except TelegramAPIError as exc:
                    logger.warning("order %d: SMS not delivered yet: %s", order.id, exc)
                    return
                await self.orders.mark_delivered(item.id)
            await self.refresh_card(order, sms)

    async def _send_sms(self, chat_id: int, order: Order, sms: OrderSms, demo: bool) -> None:
        """One SMS as its own message. Refused as too long, it is sent once more in a short form; if
        even that is refused as too long it is given up (logged), never retried as is on every poll."""
        for sms_chars in (TEXT_LIMIT, SHORT_SMS_CHARS):
            try:
                await self.bot.send_message(chat_id, code_message(order, sms, demo=demo, sms_chars=sms_chars))
                return
            except TelegramBadRequest as exc:
                if not _too_long(exc):
                    raise
                logger.warning("order %d: SMS %d refused as too long (cut at %d)", order.id, sms.id, sms_chars)
        logger.error("order %d: SMS %d refused even short; marked delivered, not sent", order.id, sms.id)

    async def refresh_card(self, order: Order, sms: list[OrderSms] | None = None) -> None:
        if order.card_message_id is None:
            return
        fresh = await self.orders.get(order.id) or order
        with self.i18n.context(), self.i18n.use_locale(await self._locale(order.user_id)):
            text, markup = await self.render(fresh, sms)
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=fresh.chat_id or fresh.user_id,
                message_id=fresh.card_message_id,
                reply_markup=markup,
            )
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message:
                logger.info("order %d: card not updated: %s", order.id, exc.message)
        except TelegramAPIError as exc:
            logger.info("order %d: card not updated: %s", order.id, exc)

    async def tell_user(self, user_id: int, render: Callable[[], str]) -> bool:
        """Send a user the text ``render`` makes, in that user's language (an admin's action told to them);
        best effort: False when Telegram refused it."""
        with self.i18n.context(), self.i18n.use_locale(await self._locale(user_id)):
            text = render()
        try:
            await self.bot.send_message(user_id, text)
        except TelegramAPIError as exc:
            logger.info("could not tell user %d: %s", user_id, exc)
            return False
        return True

    async def tell_admins(self, render: Callable[[], str], *, database: bool = True) -> bool:
        """Send every admin the text ``render`` makes, in that admin's language; in the default when
        ``database`` is False (the alert is that the database failed: it is not asked, not waited for).
        True when settled: an admin got it, or each refused it for good (``Notifications.alert``)."""
        delivered = may_pass = False
        for admin_id in self.admin_ids:
            locale = await self._admin_locale(admin_id) if database else self.i18n.default_locale
            with self.i18n.context(), self.i18n.use_locale(locale):
                text = render()
            try:
                await self.bot.send_message(admin_id, text)
            except (TelegramForbiddenError, TelegramBadRequest) as exc:  # blocked the bot, no such chat: for good
                logger.warning("admin %d refuses messages: %s", admin_id, exc)
            except TelegramAPIError as exc:  # network, 429, 5xx: may pass
                logger.warning("admin %d not reachable: %s", admin_id, exc)
                may_pass = True
            else:
                delivered = True
        return delivered or not may_pass

    async def _admin_locale(self, admin_id: int) -> str:
        """An admin's language; the default when the database cannot say (an alert that it is unusable)."""
        try:
            return await self._locale(admin_id)
        except Exception as exc:
            logger.info("admin %d: language unknown, alerting in the default: %s", admin_id, exc)
            return self.i18n.default_locale

    async def alert(self, alert: Alert) -> bool:
        return await self.tell_admins(lambda: alert_text(alert), database=not isinstance(alert, DatabaseUnusable))

    async def send_receipt(self, payment: Payment, balance: int) -> None:
        with self.i18n.context(), self.i18n.use_locale(await self._locale(payment.user_id)):
            text = receipt(self.billing.fmt(payment.amount), self.billing.fmt(balance))
        try:
            await self.bot.send_message(payment.user_id, text)
        except TelegramAPIError as exc:
            logger.warning("could not send user %d the receipt of %s: %s", payment.user_id, payment.charge_id, exc)


def _too_long(exc: TelegramBadRequest) -> bool:
    return "message is too long" in exc.message.lower() or "MESSAGE_TOO_LONG" in exc.message.upper()
