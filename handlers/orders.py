"""/orders and the order card's buttons. Every order id is checked against the caller."""

from __future__ import annotations

import secrets

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.money.billing import Billing
from bot.orders.actions import OrderActions
from bot.orders.placing import OrderService
from bot.orders.tracking import Tracker
from bot.settings import Settings
from handlers import keyboards
from handlers.callback_answers import TapAnswer
from handlers.callbacks import MenuCb, OrderCb, OrdersPageCb, RenewCb
from handlers.notifier import Notifier
from handlers.screens import show
from handlers.texts import orders as texts
from storage.orders import Order, OrderStatus
from storage.users import User

router = Router(name=__name__)


@router.message(Command("orders"))
@router.callback_query(MenuCb.filter(F.action == "orders"))
@router.callback_query(OrdersPageCb.filter())
async def order_list(
    target: Message | CallbackQuery, orders: OrderService, user: User, callback_data: object = None
) -> None:
    """/orders: the whole history a page at a time, the newest first, or the open orders only."""
    wanted = callback_data if isinstance(callback_data, OrdersPageCb) else OrdersPageCb()
    page = await orders.history(user.id, wanted.page, open_only=wanted.open)
    text = texts.order_list(bool(page.orders), page.page, page.pages, open_only=page.open_only)
    await show(target, text, keyboards.order_list(page.orders, page.page, page.pages, page.open_only))


async def _own_order(answer: TapAnswer, orders: OrderService, user: User, order_id: int) -> Order | None:
    """The caller's order, or None after telling them it is not found (someone else's id is not theirs)."""
    order = await orders.get(order_id, user.id)
    if order is None:
        answer.alert(texts.not_found())
    return order


async def _show_card(query: CallbackQuery, order: Order, orders: OrderService, notifier: Notifier) -> None:
    fresh = await orders.get(order.id, order.user_id) or order
    text, markup = await notifier.render(fresh)
    await show(query, text, markup)


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
    callback_answer: TapAnswer,
) -> None:
    order = await _own_order(callback_answer, orders, user, callback_data.order_id)
    if order is None:
        return
    notice: str | None = None
    if callback_data.action == "refresh" and order.status in (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED):
        changed = await tracker.refresh(order, settings.refresh_min_seconds)
        if changed is not None:
            await notifier.deliver(changed)
    elif callback_data.action == "cancel":
        notice = texts.action_notice(await actions.cancel(order.id, user.id), billing.fmt)
    elif callback_data.action == "another":
        notice = texts.action_notice(await actions.another_code(order.id, user.id), billing.fmt)
    elif callback_data.action == "done":
        await actions.finish(order.id, user.id)
    await _show_card(query, order, orders, notifier)
    if notice:
        callback_answer.alert(notice)


@router.callback_query(RenewCb.filter())
async def renew(
    query: CallbackQuery,
    callback_data: RenewCb,
    orders: OrderService,
    actions: OrderActions,
    billing: Billing,
    notifier: Notifier,
    user: User,
    callback_answer: TapAnswer,
) -> None:
    days, nonce = callback_data.days, callback_data.nonce
    order = await _own_order(callback_answer, orders, user, callback_data.order_id)
    if order is None:
        return
    if not nonce:
        price = await actions.renewal_price(order, days)
        if price is None:
            callback_answer.alert(texts.renewal_unavailable())
            return
        text = texts.renew_question(order, days, billing.fmt(price))
        await show(query, text, keyboards.renew_confirm(order, days, secrets.token_urlsafe(6), price))
        return
    result = await actions.renew(order.id, user.id, days, nonce, callback_data.price)
    await _show_card(query, order, orders, notifier)
    callback_answer.alert(texts.action_notice(result, billing.fmt))
