"""Inline keyboards as pure builder functions: data in, markup out."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.money.pricing import Quote
from handlers.callbacks import ConfirmCb, CountriesCb, CountryCb, MenuCb, OrderCb, RenewCb, ServiceCb, TopupCb
from handlers.texts.orders import order_button
from providers.names import country_name, flag, service_name
from storage.orders import Order, OrderStatus

PAGE_SIZE = 10
RENEW_DAYS = (7, 30)


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def menu_button() -> InlineKeyboardButton:
    """Back to the main menu: the last button of most screens."""
    return _button(_("⬅️ Menu"), MenuCb(action="home"))


def main_menu() -> InlineKeyboardMarkup:
    buy = _button(_("📱 Buy a number"), MenuCb(action="buy"))
    balance = _button(_("💰 Balance"), MenuCb(action="balance"))
    orders = _button(_("🧾 My orders"), MenuCb(action="orders"))
    help_ = _button(_("❓ Help"), MenuCb(action="help"))
    return InlineKeyboardMarkup(inline_keyboard=[[buy], [balance, orders], [help_]])


def back_to_menu() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[menu_button()]])


def balance_menu() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(_("⭐ Top up"), MenuCb(action="topup"))], [menu_button()]])


def topup(packages: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    """One button per Stars package, labelled with what it credits: ``[(stars, "1.00 USD"), ...]``."""
    kb = InlineKeyboardBuilder()
    for stars, credited in packages:
        kb.button(
            text=_("⭐ {stars} → {amount}").format(stars=stars, amount=credited), callback_data=TopupCb(stars=stars)
        )
    kb.add(menu_button())
    kb.adjust(1)
    return kb.as_markup()


def _pager(kb: InlineKeyboardBuilder, page: int, pages: int, make: Callable[[int], CallbackData]) -> None:
    nav = []
    if page > 0:
        nav.append(("◀️", make(page - 1)))
    if pages > 1:
        nav.append((f"{page + 1}/{pages}", make(page)))
    if page + 1 < pages:
        nav.append(("▶️", make(page + 1)))
    kb.row(*(_button(text, data) for text, data in nav))


def countries(codes: list[str], page: int) -> InlineKeyboardMarkup:
    pages = max((len(codes) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 0), pages - 1)
    kb = InlineKeyboardBuilder()
    for code in codes[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]:
        kb.button(text=f"{flag(code)} {country_name(code)}", callback_data=CountryCb(country=code))
    kb.adjust(2)
    _pager(kb, page, pages, lambda p: CountriesCb(page=p))
    kb.row(menu_button())
    return kb.as_markup()


def _service_label(quote: Quote, fmt: Callable[[int], str]) -> str:
    """A service's button: its name, the rental length, the price and how many numbers are left."""
    label = service_name(quote.service)
    if quote.rent_days:
        label += " · " + ngettext("{days} day", "{days} days", quote.rent_days).format(days=quote.rent_days)
    label += f" · {fmt(quote.price)}"
    if quote.stock is not None:
        label += " · " + ngettext("{n} left", "{n} left", quote.stock).format(n=quote.stock)
    return label


def services(country: str, quotes: list[Quote], page: int, fmt: Callable[[int], str]) -> InlineKeyboardMarkup:
    pages = max((len(quotes) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 0), pages - 1)
    kb = InlineKeyboardBuilder()
    for quote in quotes[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]:
        kb.button(
            text=_service_label(quote, fmt),
            callback_data=ServiceCb(country=country, service=quote.service, days=quote.rent_days or 0),
        )
    kb.adjust(1)
    _pager(kb, page, pages, lambda p: CountryCb(country=country, page=p))
    kb.row(_button(_("⬅️ Countries"), CountriesCb(page=0)))
    return kb.as_markup()


def confirm(quote: Quote, nonce: str, can_pay: bool, refundable: bool = True) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if can_pay:
        kb.button(
            text=_("✅ Confirm") if refundable else _("✅ Confirm, not refundable"),
            callback_data=ConfirmCb(
                country=quote.country,
                service=quote.service,
                price=quote.price,
                nonce=nonce,
                days=quote.rent_days or 0,
                nr=not refundable,
            ),
        )
    kb.button(text=_("⬅️ Back"), callback_data=CountryCb(country=quote.country))
    kb.adjust(1)
    return kb.as_markup()


def order_card(
    order: Order, *, another_code: bool = False, renew: bool = False, cancel: bool = True
) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if order.status in (
        OrderStatus.ACTIVE,
        OrderStatus.CODE_RECEIVED,
        OrderStatus.PENDING,
        OrderStatus.UNKNOWN,
    ):
        kb.button(text=_("🔄 Refresh"), callback_data=OrderCb(action="refresh", order_id=order.id))
    if cancel and order.status is OrderStatus.ACTIVE:
        kb.button(text=_("❌ Cancel"), callback_data=OrderCb(action="cancel", order_id=order.id))
    if order.status is OrderStatus.CODE_RECEIVED:
        if another_code:
            kb.button(text=_("📨 Another code"), callback_data=OrderCb(action="another", order_id=order.id))
        kb.button(text=_("✔️ Done"), callback_data=OrderCb(action="done", order_id=order.id))
    if renew and order.status in (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED):
        for days in RENEW_DAYS:
            renew_label = ngettext("🔁 Renew +{days} day", "🔁 Renew +{days} days", days).format(days=days)
            kb.button(text=renew_label, callback_data=RenewCb(order_id=order.id, days=days))
    kb.add(menu_button())
    kb.adjust(2, 1)
    return kb.as_markup()


def order_list(orders: list[Order]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for order in orders:
        kb.button(text=order_button(order), callback_data=OrderCb(action="show", order_id=order.id))
    kb.add(menu_button())
    kb.adjust(1)
    return kb.as_markup()


def renew_confirm(order: Order, days: int, nonce: str, price: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=_("✅ Confirm renewal"), callback_data=RenewCb(order_id=order.id, days=days, nonce=nonce, price=price)
    )
    kb.button(text=_("⬅️ Back"), callback_data=OrderCb(action="show", order_id=order.id))
    kb.adjust(1)
    return kb.as_markup()
