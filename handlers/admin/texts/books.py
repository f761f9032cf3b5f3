"""Lines about the books shared by /audit and the statistics: counted purchases, write-offs and what the
cost leaves out, and the labels of write-off reasons and top-up kinds."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext
from aiogram.utils.i18n.lazy_proxy import LazyProxy

from bot.money.audit import Books, WriteOffs
from storage.purchases import WriteOff

Fmt = Callable[[int], str]
TOP_USERS = 5  # users listed by write-offs


#: why the operator bore a purchase's cost
WRITE_OFF_REASONS: dict[str, LazyProxy] = {
    WriteOff.NO_CANCEL: __("refunded, the upstream has no cancel"),
    WriteOff.CANCEL_REFUSED: __("expired, the upstream refused the cancel"),
    WriteOff.CANCEL_FAILED: __("refunded, the cancel did not reach the upstream"),
    WriteOff.ORPHANED: __("bought for an order already settled"),
    WriteOff.UNCLEAR: __("unclear purchase, never found upstream"),
    WriteOff.RENEWAL_UNCLEAR: __("unclear renewal"),
}

#: where a top-up came from, in the /audit summary
TOPUP_KINDS: dict[str, LazyProxy] = {
    "topup": __("payments"),
    "promo": __("promo codes"),
    "admin_credit": __("admin credits"),
}


def count_cost(w: WriteOffs, fmt: Fmt) -> str:
    return _("{n} · {amount}").format(n=w.count, amount=fmt(w.cost))


def user(user_id: int) -> str:
    return _("user {id}").format(id=user_id)


def unknown_costs(books: Books, fmt: Fmt) -> list[str]:
    """The honest part: what the cost and the margin leave out (a line for each count above 0)."""
    counts = books.unknown_cost, books.unsettled, books.unpriced_sales
    texts = [
        ngettext(
            "Cost unknown: {n} purchase (left out of the cost)",
            "Cost unknown: {n} purchases (left out of the cost)",
            counts[0],
        ),
        ngettext(
            "Not settled yet: {n} purchase (left out of the cost)",
            "Not settled yet: {n} purchases (left out of the cost)",
            counts[1],
        ),
        ngettext(
            "Left out of the margin: {amount} from {n} sale whose cost is not known",
            "Left out of the margin: {amount} from {n} sales whose cost is not known",
            counts[2],
        ),
    ]
    amount = fmt(books.unpriced_revenue)
    return [text.format(n=n, amount=amount) for text, n in zip(texts, counts, strict=True) if n]
