"""/orders and the order card's buttons. Every order id is checked against the caller."""

from __future__ import annotations

import html
import secrets

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.money.billing import Billing
from bot.orders.actions import OrderActions
from bot.orders.outcomes import Outcome, Result
from bot.orders.placing import OrderService
from bot.orders.tracking import Tracker
from bot.settings import Settings
from handlers import keyboards
from handlers.callbacks import MenuCb, OrderCb, RenewCb
from handlers.notifier import Notifier
from handlers.screens import show
from storage.orders import OrderStatus
from storage.users import User

router = Router(name=__name__)


async def _orders(target: CallbackQuery | Message, orders: OrderService, user: User) -> None:
    recent = await orders.recent(user.id)
    text = _("🧾 Your latest orders:") if recent else _("You have no orders yet.")
    await show(target, text, keyboards.order_list(recent))


@router.message(Command("orders"))
async def orders_command(message: Message, orders: OrderService, user: User) -> None:
    await _orders(message, orders, user)


@router.callback_query(MenuCb.filter(F.action == "orders"))
async def orders_button(query: CallbackQuery, orders: OrderService, user: User) -> None:
    await _orders(query, orders, user)
    await query.answer()


def _notice(result: Result, billing: Billing) -> str | None:
    if result.outcome is Outcome.REFUSED and result.retry_after:
        return _("The supplier allows cancelling in {seconds} s. Try again then.").format(
            seconds=int(result.retry_after)
        )
    price = billing.fmt(result.order.price) if result.order else ""
    return {
        Outcome.CANCELLED: _("Cancelled. {price} is back on your balance.").format(price=price),
        Outcome.HAS_CODE: _("A code has arrived, so this order can no longer be cancelled."),
        Outcome.REFUSED: _("The supplier does not allow cancelling yet. Try again in a minute."),
        Outcome.UNAVAILABLE: _("The supplier is not answering. Try again in a minute."),
        Outcome.CLOSED: _("This order is already closed."),
        Outcome.REQUESTED: _("Asked for another code; it will be sent here."),
        Outcome.UNSUPPORTED: _("This number cannot receive another code."),
        Outcome.RENEWED: _("Renewed."),
        Outcome.INSUFFICIENT: _("Not enough balance to renew."),
        Outcome.OUT_OF_STOCK: _("Renewal is not available for this number right now."),
        Outcome.PRICE_CHANGED: _("The renewal price went up; open Renew again to see it."),
        Outcome.NOT_REFUNDABLE: _("This number is not refundable, so it cannot be cancelled."),
        Outcome.UNKNOWN: _(
            "The supplier did not answer clearly. We are checking: the days are added or the price "
            "comes back to your balance."
        ),
        Outcome.DUPLICATE: _("This renewal was already requested."),
    }.get(result.outcome)


@router.callback_query(OrderCb.filter())
async def order_action(
    query: CallbackQuery,
    callback_data: OrderCb,
    orders: OrderService,
    actions: OrderActions,
    billing: Billing,
    tracker: Tracker,
    notifier: Notifier,
    user: User,
    settings: Settings,
) -> None:
    order = await orders.get(callback_data.order_id, user.id)
    if order is None:
        await query.answer(_("Order not found."), show_alert=True)
        return
    notice: str | None = None
    if callback_data.action == "refresh" and order.status in (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED):
        changed = await tracker.refresh(order, settings.refresh_min_seconds)
        if changed is not None:
            await notifier.deliver(changed)
    elif callback_data.action == "cancel":
        notice = _notice(await actions.cancel(order.id, user.id), billing)
    elif callback_data.action == "another":
        notice = _notice(await actions.another_code(order.id, user.id), billing)
    elif callback_data.action == "done":
        await actions.finish(order.id, user.id)
    fresh = await orders.get(order.id, user.id) or order
    text, markup = await notifier.render(fresh)
    await show(query, text, markup)
    await query.answer(notice, show_alert=bool(notice))


@router.callback_query(RenewCb.filter())
async def renew(
    query: CallbackQuery,
    callback_data: RenewCb,
    orders: OrderService,
    actions: OrderActions,
    billing: Billing,
    notifier: Notifier,
    user: User,
) -> None:
    order = await orders.get(callback_data.order_id, user.id)
    if order is None:
        await query.answer(_("Order not found."), show_alert=True)
        return
    if not callback_data.nonce:
        price = await actions.renewal_price(order, callback_data.days)
        if price is None:
            await query.answer(_("Renewal is not available for this number right now."), show_alert=True)
            return
        text = ngettext(
            "Renew <code>{phone}</code> for {days} more day for {price}?",
            "Renew <code>{phone}</code> for {days} more days for {price}?",
            callback_data.days,
        ).format(phone=html.escape(order.phone or ""), days=callback_data.days, price=billing.fmt(price))
        text += "\n" + _("A renewal is not refunded once the supplier confirms it, whether or not an SMS arrives.")
        await show(query, text, keyboards.renew_confirm(order, callback_data.days, secrets.token_urlsafe(6), price))
        await query.answer()
        return
    result = await actions.renew(order.id, user.id, callback_data.days, callback_data.nonce, callback_data.price)
    text, markup = await notifier.render(await orders.get(order.id, user.id) or order)
    await show(query, text, markup)
    await query.answer(_notice(result, billing), show_alert=True)
