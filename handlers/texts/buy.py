"""Texts of buying a number: the country and service lists, the confirmation with its refund terms, and
why an order was not placed. Pure functions, HTML."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.money.pricing import Quote
from bot.orders.outcomes import Outcome, Result
from bot.orders.refunds import Terms
from handlers.texts import labels
from providers.names import flag


def choose_country(any_on_sale: bool) -> str:
    if any_on_sale:
        return _("🌍 Choose a country:")
    return _("No numbers are on sale right now. Please try again in a few minutes.")


def buy_entry(has_favourites: bool) -> str:
    """The /buy screen: favourites (if any), popular services, the countries."""
    if has_favourites:
        return _("⭐ Your favourites at today's prices, 🔥 the popular services, or 🌍 a country:")
    return _("🌍 Choose a country, or see the 🔥 popular services:")


def favourites_full(limit: int) -> str:
    return ngettext(
        "You can keep {n} favourite. Remove one first (✖ in /buy, or ★ on its screen).",
        "You can keep {n} favourites. Remove one first (✖ in /buy, or ★ on its screen).",
        limit,
    ).format(n=limit)


def favourite_saved(on: bool) -> str:
    return _("⭐ Saved to favourites: /buy shows it first.") if on else _("Removed from favourites.")


def choose_service(country: str, any_on_sale: bool) -> str:
    if any_on_sale:
        return _("{flag} <b>{country}</b>: choose a service").format(
            flag=flag(country), country=escape(labels.country(country))
        )
    return _("Nothing is on sale in {country} right now.").format(country=escape(labels.country(country)))


def sold_out() -> str:
    return _("Sold out just now. Please pick another service.")


def placing() -> str:
    return _("Getting your number…")


def _title(quote: Quote) -> str:
    title = _("<b>{service}</b> · {flag} {country}").format(
        service=escape(labels.service(quote.service)),
        flag=flag(quote.country),
        country=escape(labels.country(quote.country)),
    )
    if quote.rent_days:
        days = quote.rent_days
        title += " · " + ngettext("rental for {days} day", "rental for {days} days", days).format(days=days)
    return title


def terms_line(terms: Terms, write_off_limit: int) -> str:
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


def confirmation(
    quote: Quote,
    balance: int,
    fmt: Callable[[int], str],
    *,
    demo: bool,
    terms: str,
    note: str | None = None,
    qty: int = 1,
) -> str:
    """The confirmation screen: what, the price (and the total of ``qty`` numbers), the balance (and what is
    missing), the refund terms."""
    lines = [_title(quote)]
    if note:
        lines.append(note)
    total = quote.price * qty
    lines.append(_("Price: <b>{price}</b>").format(price=fmt(quote.price)))
    if qty > 1:
        several = ngettext(
            "{n} number, each an order of its own: <b>{total}</b>",
            "{n} numbers, each an order of its own: <b>{total}</b>",
            qty,
        )
        lines.append(several.format(n=qty, total=fmt(total)))
    lines.append(_("Your balance: {balance}").format(balance=fmt(balance)))
    if demo:
        lines.append(_("🧪 Demo mode: the number and the code are simulated."))
    if balance < total and qty > 1:
        missing = fmt(total - balance)
        lines.append(
            ngettext(
                "⚠️ Not enough balance: top up {missing} to buy {n} number.",
                "⚠️ Not enough balance: top up {missing} to buy {n} numbers.",
                qty,
            ).format(missing=missing, n=qty)
        )
    elif balance < total:
        missing = fmt(total - balance)
        lines.append(_("⚠️ Not enough balance: top up {missing} to buy this number.").format(missing=missing))
    lines.append(terms)
    return "\n".join(lines)


def changed_note(result: Result, confirmed: int, fmt: Callable[[int], str]) -> str | None:
    """Why the confirmation is shown again instead of an order; None when it is not."""
    if result.quote is None:
        return None
    if result.outcome is Outcome.TERMS_CHANGED:
        return _("The terms changed: this number would not be refundable. Nothing was charged. Confirm again?")
    if result.outcome not in (Outcome.PRICE_CHANGED, Outcome.OUT_OF_STOCK):
        return None
    if result.quote.price > confirmed:
        note = _("The price is now {price}: the cheaper numbers sold out. Nothing was charged. Confirm again?")
        return note.format(price=fmt(result.quote.price))
    return _("The supplier could not give a number just now. Nothing was charged. Try again?")


def not_placed(result: Result) -> str:
    """Why no order was placed, when no confirmation is shown again."""
    n = result.limit or 0
    if result.outcome is Outcome.INSUFFICIENT:
        return _("⚠️ Not enough balance. Top up and try again.")
    if result.outcome is Outcome.TOO_MANY_OPEN and n:
        return ngettext(
            "⚠️ You already have {n} open order, the most at once. Finish or cancel one, then try again.",
            "⚠️ You already have {n} open orders, the most at once. Finish or cancel one, then try again.",
            n,
        ).format(n=n)
    if result.outcome is Outcome.TOO_FAST and n:
        return ngettext(
            "⚠️ At most {n} purchase a minute. Nothing was charged; try again in a minute.",
            "⚠️ At most {n} purchases a minute. Nothing was charged; try again in a minute.",
            n,
        ).format(n=n)
    return _("😔 No number is available for this service right now. Nothing was charged.")


def several_stopped(placed: int, qty: int, why: str) -> str:
    """Several numbers were asked for and the placing stopped early: how many were placed, and why not more."""
    done = ngettext(
        "{placed} of {n} number was placed; the others were not (nothing charged for them).",
        "{placed} of {n} numbers were placed; the others were not (nothing charged for them).",
        qty,
    ).format(placed=placed, n=qty)
    return f"{done}\n{why}"


def price_went_up(price: str) -> str:
    return _("The price is now {price}: the cheaper numbers sold out.").format(price=price)


def terms_changed() -> str:
    return _("The terms changed: the next number would not be refundable.")
