"""The prices screen and the answers of /markup and /price."""

from __future__ import annotations

from decimal import Decimal
from html import escape

from aiogram.utils.i18n import gettext as _

from handlers.admin.texts.panel import Fmt, none
from handlers.texts import labels


def prices(markup: Decimal, overrides: list[tuple[str, str, int]], fmt: Fmt) -> str:
    lines = [_("🏷 <b>Prices</b>"), _("Markup: {markup}%").format(markup=markup), "", _("<b>Overrides</b>")]
    lines += [f"{escape(labels.service(s))} ({escape(s)}) · {escape(c)}: {fmt(p)}" for s, c, p in overrides]
    if not overrides:
        lines.append(none())
    lines += [
        "",
        _(
            "Change with <code>/markup 35</code>, <code>/price whatsapp US 0.99</code> or "
            "<code>/price whatsapp US off</code>."
        ),
    ]
    return "\n".join(lines)


def markup_usage(markup: Decimal) -> str:
    return _("Markup is {markup}%. Usage: <code>/markup 35</code> (0 to 1000).").format(markup=markup)


def markup_set(markup: Decimal) -> str:
    return _("Markup set to {markup}%. New prices apply at once.").format(markup=markup)


def price_usage() -> str:
    return _(
        "Usage: <code>/price &lt;service&gt; &lt;country&gt; &lt;price|off&gt;</code>, "
        "e.g. /price whatsapp US 0.99\n"
        "service: its code, at most 24 letters, digits, - or _; country: an ISO code such as US or IDN"
    )


def price_set(service: str, country: str, price: str | None) -> str:
    """The answer to /price: the override removed (``price`` None) or the new selling price."""
    if price is None:
        return _("Override for {service} {country} removed.").format(service=service, country=country)
    return _("{service} {country} now sells at {price}.").format(service=service, country=country, price=price)
