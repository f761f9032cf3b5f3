"""Buying: countries -> services with price and stock -> confirmation -> the order card."""

from __future__ import annotations

import secrets

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.money.billing import Billing
from bot.money.pricing import Quote
from bot.orders.outcomes import Outcome
from bot.orders.placing import OrderService
from handlers import keyboards
from handlers.callback_answers import TapAnswer
from handlers.callbacks import ConfirmCb, CountriesCb, CountryCb, MenuCb, ServiceCb
from handlers.notifier import Notifier
from handlers.screens import show
from handlers.texts import buy as texts
from handlers.texts import labels
from storage.users import User

router = Router(name=__name__)

#: why an order was not placed, said on its own screen (a changed price or terms shows the confirmation again)
NOT_PLACED = (Outcome.INSUFFICIENT, Outcome.TOO_MANY_OPEN, Outcome.TOO_FAST, Outcome.OUT_OF_STOCK)


async def _countries(target: CallbackQuery | Message, orders: OrderService, page: int) -> None:
    codes = labels.by_country_name(await orders.catalog.countries())
    markup = keyboards.countries(codes, page) if codes else keyboards.back_to_menu()
    await show(target, texts.choose_country(bool(codes)), markup)


@router.message(Command("buy"))
@router.callback_query(MenuCb.filter(F.action == "buy"))
async def buy(target: Message | CallbackQuery, orders: OrderService) -> None:
    await _countries(target, orders, 0)


@router.callback_query(CountriesCb.filter())
async def countries_page(query: CallbackQuery, callback_data: CountriesCb, orders: OrderService) -> None:
    await _countries(query, orders, callback_data.page)


@router.callback_query(CountryCb.filter())
async def country_services(
    query: CallbackQuery, callback_data: CountryCb, orders: OrderService, billing: Billing
) -> None:
    country = callback_data.country
    quotes = sorted(await orders.quotes(country), key=lambda q: labels.service(q.service).lower())
    if quotes:
        markup = keyboards.services(country, quotes, callback_data.page, billing.fmt)
    else:
        markup = keyboards.countries([], 0)
    await show(query, texts.choose_service(country, bool(quotes)), markup)


async def show_confirmation(
    target: CallbackQuery | Message,
    quote: Quote,
    orders: OrderService,
    billing: Billing,
    user_id: int,
    balance: int,
    note: str | None = None,
) -> None:
    """The confirmation screen: price, ``balance``, refund terms; Confirm only when the balance covers it.
    Edits the tapped message, or answers a message (a deep link, a search) with a new one."""
    terms = await orders.terms(quote, user_id)
    demo = any(orders.catalog.get(o.provider).is_demo for o in quote.offers[:1])
    terms_line = texts.terms_line(terms, orders.policy.write_off_limit)
    text = texts.confirmation(quote, balance, billing.fmt, demo=demo, terms=terms_line, note=note)
    markup = keyboards.confirm(quote, secrets.token_urlsafe(6), balance >= quote.price, terms.refundable)
    await show(target, text, markup)


@router.callback_query(ServiceCb.filter())
async def confirm_screen(
    query: CallbackQuery,
    callback_data: ServiceCb,
    orders: OrderService,
    billing: Billing,
    user: User,
    callback_answer: TapAnswer,
) -> None:
    quote = await orders.quote(callback_data.country, callback_data.service, callback_data.days or None)
    if quote is None:
        callback_answer.alert(texts.sold_out())
        return
    await show_confirmation(query, quote, orders, billing, user.id, user.balance)  # the balance read with this update


@router.callback_query(ConfirmCb.filter())
async def place_order(
    query: CallbackQuery,
    callback_data: ConfirmCb,
    orders: OrderService,
    billing: Billing,
    user: User,
    notifier: Notifier,
    callback_answer: TapAnswer,
) -> None:
    await callback_answer.now(texts.placing())  # buying takes a moment: stop the spinner first
    result = await orders.place(
        user_id=user.id,
        chat_id=query.message.chat.id if query.message else user.id,
        request_key=f"{user.id}:{callback_data.nonce}",
        country=callback_data.country,
        service=callback_data.service,
        confirmed=callback_data.price,
        rent_days=callback_data.days or None,
        card_message_id=query.message.message_id if query.message else None,
        accept_nonrefundable=callback_data.nr,
    )
    note = texts.changed_note(result, callback_data.price, billing.fmt)
    if note is not None and result.quote is not None:
        await show_confirmation(query, result.quote, orders, billing, user.id, await billing.balance(user.id), note)
    elif result.order is None or result.outcome in NOT_PLACED:
        await show(query, texts.not_placed(result), keyboards.back_to_menu())
    else:
        text, markup = await notifier.render(result.order)
        await show(query, text, markup)
