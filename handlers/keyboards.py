"""Inline keyboards as pure builder functions: data in, markup out. The markup is built directly, not through
``InlineKeyboardBuilder``, which deep-copies every button (see tests/test_keyboards.py)."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.languages import LANGUAGES, native_name
from bot.money.pricing import Quote
from bot.orders.favourites import Favourite
from handlers.callbacks import (
    ConfirmCb,
    CountriesCb,
    CountryCb,
    FavouriteCb,
    LanguageCb,
    MenuCb,
    OrderCb,
    OrdersPageCb,
    QuantityCb,
    RenewCb,
    ServiceCb,
    SmsReplyCb,
    TopupCb,
)
from handlers.texts import labels
from handlers.texts.orders import order_button
from providers.names import flag
from storage.orders import Order, OrderStatus

PAGE_SIZE = 10
RENEW_DAYS = (7, 30)
#: the quantities the confirmation screen offers: several numbers at once, each an order of its own
QUANTITIES = range(1, 6)


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
    language = _button(_("🌐 Language"), MenuCb(action="language"))
    return InlineKeyboardMarkup(inline_keyboard=[[buy], [balance, orders], [help_, language]])


def languages(current: str) -> InlineKeyboardMarkup:
    """Every shipped language by its own name, two a row, the current one ticked; then back to the menu."""
    buttons = [
        _button(("✓ " if code == current else "") + native_name(code), LanguageCb(language=code)) for code in LANGUAGES
    ]
    return InlineKeyboardMarkup(inline_keyboard=[*in_rows(buttons, 2), [menu_button()]])


def back_to_menu() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[menu_button()]])


def balance_menu() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(_("⭐ Top up"), MenuCb(action="topup"))], [menu_button()]])


def in_rows(buttons: list[InlineKeyboardButton], *sizes: int) -> list[list[InlineKeyboardButton]]:
    """``buttons`` in rows of ``sizes`` in turn, the last size for the rest (as ``InlineKeyboardBuilder.adjust``,
    without its deep copy of every button)."""
    rows, start = [], 0
    while start < len(buttons):
        size = sizes[min(len(rows), len(sizes) - 1)]
        rows.append(buttons[start : start + size])
        start += size
    return rows


def topup(packages: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    """One button per Stars package, labelled with what it credits: ``[(stars, "1.00 USD"), ...]``."""
    buttons = [
        _button(_("⭐ {stars} → {amount}").format(stars=stars, amount=credited), TopupCb(stars=stars))
        for stars, credited in packages
    ]
    return InlineKeyboardMarkup(inline_keyboard=in_rows([*buttons, menu_button()], 1))


def _pager(page: int, pages: int, make: Callable[[int], CallbackData]) -> list[list[InlineKeyboardButton]]:
    """The row under a paged list (◀️, page of pages, ▶️); none when everything fits on one page."""
    nav = []
    if page > 0:
        nav.append(_button("◀️", make(page - 1)))
    if pages > 1:
        nav.append(_button(f"{page + 1}/{pages}", make(page)))
    if page + 1 < pages:
        nav.append(_button("▶️", make(page + 1)))
    return [nav] if nav else []


def _page(count: int, page: int) -> tuple[int, int]:
    """The page shown (``page`` brought into range) and the number of pages of ``count`` items."""
    pages = max((count + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return min(max(page, 0), pages - 1), pages


def countries(codes: list[str], page: int, top: list[list[InlineKeyboardButton]] | None = None) -> InlineKeyboardMarkup:
    """A page of countries, two a row, with the pager; ``top``: rows above them (the /buy screen's)."""
    page, pages = _page(len(codes), page)
    shown = codes[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    buttons = [_button(labels.line(f"{flag(code)} {labels.country(code)}"), CountryCb(country=code)) for code in shown]
    nav = _pager(page, pages, lambda p: CountriesCb(page=p))
    return InlineKeyboardMarkup(inline_keyboard=[*(top or []), *in_rows(buttons, 2), *nav, [menu_button()]])


def buy_entry(favourites: list[Favourite], codes: list[str], fmt: Callable[[int], str]) -> InlineKeyboardMarkup:
    """/buy: the user's favourites with today's price (one no longer on sale says so, with ✖ to drop it),
    then Popular services beside By country, then the first page of countries."""
    rows = []
    for fav in favourites:
        if fav.quote is not None:
            days = fav.quote.rent_days or 0
            data = ServiceCb(country=fav.country, service=fav.service, days=days)
            rows.append([_button("⭐ " + _service_label(fav.quote, fmt, country=True), data)])
            continue
        where = f"{flag(fav.country)} {labels.country(fav.country)}"
        gone = labels.line(f"⭐ {labels.service(fav.service)} · {where} · " + _("not on sale"))
        drop = FavouriteCb(country=fav.country, service=fav.service, on=False)
        rows.append([_button(gone, ServiceCb(country=fav.country, service=fav.service)), _button("✖", drop)])
    popular = _button(_("🔥 Popular services"), MenuCb(action="popular"))
    rows.append([popular, _button(_("🌍 By country"), CountriesCb(page=0))])
    return countries(codes, 0, rows)


def _service_label(quote: Quote, fmt: Callable[[int], str], *, country: bool = False) -> str:
    """A service's button: its name (and the country's flag), the rental length, the price and how many
    numbers are left."""
    label = labels.service(quote.service)
    if country:
        label += f" · {flag(quote.country)} {labels.country(quote.country)}"
    if quote.rent_days:
        label += " · " + ngettext("{days} day", "{days} days", quote.rent_days).format(days=quote.rent_days)
    label += f" · {fmt(quote.price)}"
    if quote.stock is not None:
        label += " · " + ngettext("{n} left", "{n} left", quote.stock).format(n=quote.stock)
    return labels.line(label)


def services(country: str, quotes: list[Quote], page: int, fmt: Callable[[int], str]) -> InlineKeyboardMarkup:
    page, pages = _page(len(quotes), page)
    rows = [
        [_button(_service_label(q, fmt), ServiceCb(country=country, service=q.service, days=q.rent_days or 0))]
        for q in quotes[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    ]
    nav = _pager(page, pages, lambda p: CountryCb(country=country, page=p))
    return InlineKeyboardMarkup(inline_keyboard=[*rows, *nav, [_button(_("⬅️ Countries"), CountriesCb(page=0))]])


def confirm(
    quote: Quote, nonce: str, can_pay: bool, refundable: bool = True, *, qty: int = 1, favourite: bool = False
) -> InlineKeyboardMarkup:
    """Confirm (``qty`` numbers), the quantity picker (the current one marked), ☆/★ and Back."""
    pair = {"country": quote.country, "service": quote.service, "days": quote.rent_days or 0}
    rows = []
    if can_pay:
        data = ConfirmCb(**pair, price=quote.price, nonce=nonce, nr=not refundable, qty=qty)
        if qty > 1:
            label = ngettext("✅ Confirm {n} number", "✅ Confirm {n} numbers", qty).format(n=qty)
            if not refundable:
                label += " · " + _("not refundable")
        else:
            label = _("✅ Confirm") if refundable else _("✅ Confirm, not refundable")
        rows.append([_button(label, data)])
    rows.append([_button(f"· {n} ·" if n == qty else str(n), QuantityCb(**pair, qty=n)) for n in QUANTITIES])
    star = _("★ In favourites") if favourite else _("☆ Add to favourites")
    rows.append([_button(star, FavouriteCb(**pair, on=not favourite))])
    rows.append([_button(_("⬅️ Back"), CountryCb(country=quote.country))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


#: an order whose card offers 🔄 Refresh: one that may still change
REFRESHABLE = (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED, OrderStatus.PENDING, OrderStatus.UNKNOWN)
#: an order whose card (and line in /orders) offers Buy again: one that is over
FINISHED = (OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.FAILED)


def buy_again(order: Order) -> InlineKeyboardButton:
    """The confirmation of the same service and country at today's price: never a charge by itself."""
    data = ServiceCb(country=order.country, service=order.service, days=order.rent_days or 0)
    return _button(_("🛒 Buy again"), data)


def order_card(
    order: Order, *, another_code: bool = False, renew: bool = False, cancel: bool = True, can_reply: bool = False
) -> InlineKeyboardMarkup:
    def tap(action: str) -> OrderCb:
        return OrderCb(action=action, order_id=order.id)

    buttons = []
    if order.status in REFRESHABLE:
        buttons.append(_button(_("🔄 Refresh"), tap("refresh")))
    if cancel and order.status is OrderStatus.ACTIVE:
        buttons.append(_button(_("❌ Cancel"), tap("cancel")))
    if order.status is OrderStatus.CODE_RECEIVED:
        if another_code:
            buttons.append(_button(_("📨 Another code"), tap("another")))
        buttons.append(_button(_("✔️ Done"), tap("done")))
    if renew and order.status in (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED):
        for days in RENEW_DAYS:
            renew_label = ngettext("🔁 Renew +{days} day", "🔁 Renew +{days} days", days).format(days=days)
            buttons.append(_button(renew_label, RenewCb(order_id=order.id, days=days)))
    if can_reply:
        buttons.append(_button(_("✉️ Reply by SMS"), SmsReplyCb(order_id=order.id)))
    if order.status in FINISHED:
        buttons.append(buy_again(order))
    return InlineKeyboardMarkup(inline_keyboard=in_rows([*buttons, menu_button()], 2, 1))


def order_list(orders: list[Order], page: int = 0, pages: int = 1, open_only: bool = False) -> InlineKeyboardMarkup:
    """A page of /orders: each order (a finished one with 🛒 beside it), the pager, the open-orders filter."""
    rows = []
    for order in orders:
        row = [_button(order_button(order), OrderCb(action="show", order_id=order.id))]
        if order.status in FINISHED:
            row.append(
                _button("🛒", ServiceCb(country=order.country, service=order.service, days=order.rent_days or 0))
            )
        rows.append(row)
    nav = _pager(page, pages, lambda p: OrdersPageCb(page=p, open=open_only))
    toggle = _("📋 All orders") if open_only else _("⏳ Open orders only")
    rows += [*nav, [_button(toggle, OrdersPageCb(page=0, open=not open_only))]] if orders or open_only else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [menu_button()]])


def renew_confirm(order: Order, days: int, nonce: str, price: int) -> InlineKeyboardMarkup:
    confirm_renewal = _button(_("✅ Confirm renewal"), RenewCb(order_id=order.id, days=days, nonce=nonce, price=price))
    back = _button(_("⬅️ Back"), OrderCb(action="show", order_id=order.id))
    return InlineKeyboardMarkup(inline_keyboard=[[confirm_renewal], [back]])
