"""Buying: countries -> services with price and stock -> confirmation -> the order card."""

from __future__ import annotations

import secrets

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.money.billing import Billing
from bot.money.pricing import Quote
from bot.orders.outcomes import Outcome
from bot.orders.placing import OrderService
from bot.orders.refunds import Terms
from handlers import keyboards
from handlers.callbacks import ConfirmCb, CountriesCb, CountryCb, MenuCb, ServiceCb
from handlers.notifier import Notifier
from handlers.screens import show
from providers.names import country_name, flag, service_name
from storage.users import User

router = Router(name=__name__)


async def _countries(target: CallbackQuery | Message, orders: OrderService, page: int) -> None:
    offers = await orders.catalog.offers()
    codes = sorted({o.country for o in offers if o.stock is None or o.stock > 0}, key=country_name)
    if not codes:
        await show(
            target,
            _("No numbers are on sale right now. Please try again in a few minutes."),
            keyboards.back_to_menu(),
        )
        return
    await show(target, _("🌍 Choose a country:"), keyboards.countries(codes, page))


@router.message(Command("buy"))
async def buy_command(message: Message, orders: OrderService) -> None:
    await _countries(message, orders, 0)


@router.callback_query(MenuCb.filter(F.action == "buy"))
async def buy_button(query: CallbackQuery, orders: OrderService) -> None:
    await _countries(query, orders, 0)
    await query.answer()


@router.callback_query(CountriesCb.filter())
async def countries_page(query: CallbackQuery, callback_data: CountriesCb, orders: OrderService) -> None:
    await _countries(query, orders, callback_data.page)
    await query.answer()


@router.callback_query(CountryCb.filter())
async def country_services(
    query: CallbackQuery, callback_data: CountryCb, orders: OrderService, billing: Billing
) -> None:
    country = callback_data.country
    quotes = sorted(await orders.quotes(country), key=lambda q: service_name(q.service).lower())
    if not quotes:
        await show(
            query,
            _("Nothing is on sale in {country} right now.").format(country=country_name(country)),
            keyboards.countries([], 0),
        )
    else:
        await show(
            query,
            _("{flag} <b>{country}</b>: choose a service").format(flag=flag(country), country=country_name(country)),
            keyboards.services(country, quotes, callback_data.page, billing.fmt),
        )
    await query.answer()


def _title(quote: Quote) -> str:
    title = _("<b>{service}</b> · {flag} {country}").format(
        service=service_name(quote.service), flag=flag(quote.country), country=country_name(quote.country)
    )
    if quote.rent_days:
        title += " · " + _("rental for {days} days").format(days=quote.rent_days)
    return title


def _terms_line(terms: Terms, write_off_limit: int) -> str:
    if terms is Terms.RENTAL:
        return _("⚠️ Not refundable: this rental is paid once the number is delivered, code or not.")
    if terms is Terms.OVER_LIMIT:
        return ngettext(
            "⚠️ Not refundable: this supplier does not take numbers back, and you have used your {n} free "
            "cancellation of such numbers for today, so this one is paid once delivered, code or not.",
            "⚠️ Not refundable: this supplier does not take numbers back, and you have used your {n} free "
            "cancellations of such numbers for today, so this one is paid once delivered, code or not.",
            write_off_limit,
        ).format(n=write_off_limit)
    return _("You pay only if a code arrives: cancel or expiry refunds the price.")


async def _confirm(
    query: CallbackQuery, quote: Quote, orders: OrderService, billing: Billing, user: User, note: str | None = None
) -> None:
    """The confirmation screen: price, balance, refund terms; Confirm only when the balance covers it."""
    balance = await billing.balance(user.id)
    terms = await orders.terms(quote, user.id)
    lines = [_title(quote)]
    if note:
        lines.append(note)
    lines += [
        _("Price: <b>{price}</b>").format(price=billing.fmt(quote.price)),
        _("Your balance: {balance}").format(balance=billing.fmt(balance)),
    ]
    if any(orders.catalog.get(o.provider).is_demo for o in quote.offers[:1]):
        lines.append(_("🧪 Demo mode: the number and the code are simulated."))
    if balance < quote.price:
        lines.append(
            _("⚠️ Not enough balance: top up {missing} to buy this number.").format(
                missing=billing.fmt(quote.price - balance)
            )
        )
    lines.append(_terms_line(terms, orders.policy.write_off_limit))
    markup = keyboards.confirm(quote, secrets.token_urlsafe(6), balance >= quote.price, terms.refundable)
    await show(query, "\n".join(lines), markup)


@router.callback_query(ServiceCb.filter())
async def confirm_screen(
    query: CallbackQuery, callback_data: ServiceCb, orders: OrderService, billing: Billing, user: User
) -> None:
    quote = await orders.quote(callback_data.country, callback_data.service, callback_data.days or None)
    if quote is None:
        await query.answer(_("Sold out just now. Please pick another service."), show_alert=True)
        return
    await _confirm(query, quote, orders, billing, user)
    await query.answer()


@router.callback_query(ConfirmCb.filter())
async def place_order(
    query: CallbackQuery,
    callback_data: ConfirmCb,
    orders: OrderService,
    billing: Billing,
    user: User,
    notifier: Notifier,
) -> None:
    await query.answer(_("Getting your number…"))
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
    if result.outcome is Outcome.INSUFFICIENT:
        await show(query, _("⚠️ Not enough balance. Top up and try again."), keyboards.back_to_menu())
        return
    if result.outcome is Outcome.TOO_MANY_OPEN and result.limit:
        text = ngettext(
            "⚠️ You already have {n} open order, the most at once. Finish or cancel one, then try again.",
            "⚠️ You already have {n} open orders, the most at once. Finish or cancel one, then try again.",
            result.limit,
        ).format(n=result.limit)
        await show(query, text, keyboards.back_to_menu())
        return
    if result.outcome is Outcome.TOO_FAST and result.limit:
        text = ngettext(
            "⚠️ At most {n} purchase a minute. Nothing was charged; try again in a minute.",
            "⚠️ At most {n} purchases a minute. Nothing was charged; try again in a minute.",
            result.limit,
        ).format(n=result.limit)
        await show(query, text, keyboards.back_to_menu())
        return
    if result.outcome is Outcome.TERMS_CHANGED and result.quote:
        note = _("The terms changed: this number would not be refundable. Nothing was charged. Confirm again?")
        await _confirm(query, result.quote, orders, billing, user, note)
        return
    if result.outcome in (Outcome.PRICE_CHANGED, Outcome.OUT_OF_STOCK) and result.quote:
        if result.quote.price > callback_data.price:
            note = _("The price is now {price}: the cheaper numbers sold out. Nothing was charged. Confirm again?")
        else:
            note = _("The supplier could not give a number just now. Nothing was charged. Try again?")
        note = note.format(price=billing.fmt(result.quote.price))
        await _confirm(query, result.quote, orders, billing, user, note)
        return
    if result.order is None or result.outcome is Outcome.OUT_OF_STOCK:
        text = _("😔 No number is available for this service right now. Nothing was charged.")
        await show(query, text, keyboards.back_to_menu())
        return
    text, markup = await notifier.render(result.order)
    await show(query, text, markup)
