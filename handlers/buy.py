"""Buying: /buy (favourites, popular services, countries) -> services with price and stock -> confirmation
(quantity, ☆) -> the order card, one per number."""

from __future__ import annotations

import asyncio
import logging
import secrets

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.money.billing import Billing
from bot.money.pricing import Quote
from bot.orders.favourites import Favourites
from bot.orders.outcomes import Result
from bot.orders.placing import OrderService
from handlers import keyboards, several
from handlers.callback_answers import TapAnswer
from handlers.callbacks import ConfirmCb, CountriesCb, CountryCb, FavouriteCb, MenuCb, QuantityCb, ServiceCb
from handlers.notifier import Notifier
from handlers.screens import show
from handlers.texts import buy as texts
from handlers.texts import labels
from storage.users import User

logger = logging.getLogger(__name__)

router = Router(name=__name__)

NOT_PLACED = several.NOT_PLACED


async def _countries(target: CallbackQuery | Message, orders: OrderService, page: int) -> None:
    codes = labels.by_country_name(await orders.catalog.countries())
    markup = keyboards.countries(codes, page) if codes else keyboards.back_to_menu()
    await show(target, texts.choose_country(bool(codes)), markup)


async def _entry(
    target: CallbackQuery | Message, orders: OrderService, favourites: Favourites, billing: Billing, user_id: int
) -> None:
    """The /buy screen: the user's favourites at today's price, Popular services and By country, then the
    first page of countries (what /buy showed before, so one tap still picks a country)."""
    found, codes = await asyncio.gather(favourites.with_prices(user_id), orders.catalog.countries())
    codes = labels.by_country_name(codes)
    if not found and not codes:
        await show(target, texts.choose_country(False), keyboards.back_to_menu())
        return
    await show(target, texts.buy_entry(bool(found)), keyboards.buy_entry(found, codes, billing.fmt))


@router.message(Command("buy"))
@router.callback_query(MenuCb.filter(F.action == "buy"))
async def buy(
    target: Message | CallbackQuery, orders: OrderService, favourites: Favourites, billing: Billing, user: User
) -> None:
    await _entry(target, orders, favourites, billing, user.id)


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
    *,
    qty: int = 1,
    favourites: Favourites | None = None,
) -> None:
    """The confirmation screen: price (and the total of ``qty`` numbers), ``balance``, refund terms, the
    quantity picker and ☆; Confirm only when the balance covers the total. ``favourites``: to show the pair
    starred when it is (without it, ☆ shows unstarred, and a tap on it saves the pair all the same).
    Edits the tapped message, or answers a message (a deep link, a search) with a new one."""
    terms = await orders.terms(quote, user_id)
    demo = any(orders.catalog.get(o.provider).is_demo for o in quote.offers[:1])
    starred = favourites is not None and await favourites.is_favourite(user_id, quote.service, quote.country)
    terms_line = texts.terms_line(terms, orders.policy.write_off_limit)
    text = texts.confirmation(quote, balance, billing.fmt, demo=demo, terms=terms_line, note=note, qty=qty)
    can_pay = balance >= quote.price * qty
    nonce = secrets.token_urlsafe(6)
    markup = keyboards.confirm(quote, nonce, can_pay, terms.refundable, qty=qty, favourite=starred)
    await show(target, text, markup)


@router.callback_query(ServiceCb.filter())
@router.callback_query(QuantityCb.filter())
async def confirm_screen(
    query: CallbackQuery,
    callback_data: ServiceCb | QuantityCb,
    orders: OrderService,
    favourites: Favourites,
    billing: Billing,
    user: User,
    callback_answer: TapAnswer,
) -> None:
    """A service picked (from a country, a favourite, Buy again) or a quantity picked: the confirmation."""
    quote = await orders.quote(callback_data.country, callback_data.service, callback_data.days or None)
    if quote is None:
        callback_answer.alert(texts.sold_out())
        return
    qty = callback_data.qty if isinstance(callback_data, QuantityCb) else 1
    # the balance read with this update
    await show_confirmation(query, quote, orders, billing, user.id, user.balance, qty=qty, favourites=favourites)


@router.callback_query(FavouriteCb.filter())
async def favourite(
    query: CallbackQuery,
    callback_data: FavouriteCb,
    orders: OrderService,
    favourites: Favourites,
    billing: Billing,
    user: User,
    callback_answer: TapAnswer,
) -> None:
    """☆ / ★ on a confirmation (the screen again, starred or not), or ✖ on a favourite no longer on sale."""
    service, country = callback_data.service, callback_data.country
    if not await favourites.set(user.id, service, country, callback_data.on):
        callback_answer.alert(texts.favourites_full(favourites.limit))
        return
    callback_answer.text = texts.favourite_saved(callback_data.on)
    quote = await orders.quote(country, service, callback_data.days or None)
    if quote is None:
        await _entry(query, orders, favourites, billing, user.id)
        return
    await show_confirmation(query, quote, orders, billing, user.id, user.balance, favourites=favourites)


@router.callback_query(ConfirmCb.filter())
async def place_order(
    query: CallbackQuery,
    callback_data: ConfirmCb,
    orders: OrderService,
    favourites: Favourites,
    billing: Billing,
    user: User,
    notifier: Notifier,
    callback_answer: TapAnswer,
) -> None:
    """Confirm: ``qty`` numbers, each its own order and card; the first card replaces the confirmation."""
    await callback_answer.now(texts.placing())  # buying takes a moment: stop the spinner first
    data, chat_id = callback_data, query.message.chat.id if query.message else user.id
    cards = several.Cards(query, chat_id)
    placing = orders.place_several(
        qty=data.qty,
        user_id=user.id,
        chat_id=chat_id,
        request_key=f"{user.id}:{data.nonce}",
        country=data.country,
        service=data.service,
        confirmed=data.price,
        card_message=cards.message,
        rent_days=data.days or None,
        accept_nonrefundable=data.nr,
    )
    i = 0
    async for result in placing:
        if i == 0:
            await _first(query, data, result, orders, favourites, billing, user, notifier)
        elif (card := cards.sent.get(i)) is not None:
            try:
                await several.further(card, i, data.qty, result, billing, notifier)
            except TelegramAPIError as exc:  # one card not shown must not stop placing the rest
                logger.info("card of number %d not shown: %s", i + 1, exc)
        i += 1


async def _first(
    query: CallbackQuery,
    data: ConfirmCb,
    result: Result,
    orders: OrderService,
    favourites: Favourites,
    billing: Billing,
    user: User,
    notifier: Notifier,
) -> None:
    """The first order's outcome, on the confirmation message: its card, or why not (the confirmation again
    when the price or terms changed)."""
    note = texts.changed_note(result, data.price, billing.fmt)
    if note is not None and result.quote is not None:
        balance = await billing.balance(user.id)
        await show_confirmation(
            query, result.quote, orders, billing, user.id, balance, note, qty=data.qty, favourites=favourites
        )
    elif result.order is None or result.outcome in NOT_PLACED:
        await show(query, texts.not_placed(result), keyboards.back_to_menu())
    else:
        text, markup = await notifier.render(result.order)
        await show(query, text, markup)
