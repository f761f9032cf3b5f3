"""/orders and the order card's buttons. Every order id is checked against the caller."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.billing import Billing
from bot.orders import OrderService, Outcome
from bot.tracking import Tracker
from handlers import cards, keyboards
from handlers.callbacks import MenuCb, OrderCb
from handlers.screens import show
from storage.orders import Order, OrderStatus
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


async def _render(query: CallbackQuery, order: Order, orders: OrderService, billing: Billing) -> None:
    sms = await orders.sms(order.id)
    await show(
        query,
        cards.order_card(order, sms, billing.fmt, demo=orders.is_demo(order)),
        keyboards.order_card(order),
    )


@router.callback_query(OrderCb.filter())
async def order_action(
    query: CallbackQuery,
    callback_data: OrderCb,
    orders: OrderService,
    billing: Billing,
    tracker: Tracker,
    user: User,
) -> None:
    order = await orders.get(callback_data.order_id, user.id)
    if order is None:
        await query.answer(_("Order not found."), show_alert=True)
        return
    notice: str | None = None
    if callback_data.action == "refresh" and order.status in (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED):
        await tracker.poll(order)
    elif callback_data.action == "cancel":
        result = await orders.cancel(order.id, user.id)
        notice = {
            Outcome.CANCELLED: _("Cancelled. {price} is back on your balance.").format(price=billing.fmt(order.price)),
            Outcome.HAS_CODE: _("A code has arrived, so this order can no longer be cancelled."),
            Outcome.REFUSED: _("The supplier does not allow cancelling yet. Try again in a minute."),
            Outcome.UNAVAILABLE: _("The supplier is not answering. Try again in a minute."),
            Outcome.CLOSED: _("This order is already closed."),
        }.get(result.outcome)
        if result.outcome is Outcome.REFUSED and result.retry_after:
            notice = _("The supplier allows cancelling in {seconds} s. Try again then.").format(
                seconds=int(result.retry_after)
            )
    elif callback_data.action == "done":
        await orders.finish(order.id, user.id)
    fresh = await orders.get(order.id, user.id) or order
    await _render(query, fresh, orders, billing)
    await query.answer(notice or None, show_alert=bool(notice))
