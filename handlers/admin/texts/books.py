"""Lines about the books shared by /audit and the statistics: counted purchases, write-offs and what the
cost leaves out, and the labels of write-off reasons and top-up kinds."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.money.audit import Books, WriteOffs
from storage.purchases import WriteOff

Fmt = Callable[[int], str]
TOP_USERS = 5  # users listed by write-offs


def write_off_reason(reason: str) -> str:
    """Why the operator bore a purchase's cost, as the operator reads it."""
    labels: dict[str, str] = {
        WriteOff.NO_CANCEL: _("refunded, the upstream has no cancel"),
        WriteOff.CANCEL_REFUSED: _("expired, the upstream refused the cancel"),
        WriteOff.CANCEL_FAILED: _("refunded, the cancel did not reach the upstream"),
        WriteOff.ORPHANED: _("bought for an order already settled"),
        WriteOff.UNCLEAR: _("unclear purchase, never found upstream"),
        WriteOff.RENEWAL_UNCLEAR: _("unclear renewal"),
    }
    return labels.get(reason, _("other"))


def topup_kind(kind: str) -> str:
    """Where a top-up came from, in the /audit summary."""
    labels = {"topup": _("payments"), "promo": _("promo codes"), "admin_credit": _("admin credits")}
    return labels.get(kind, _("other"))


def count_cost(w: WriteOffs, fmt: Fmt) -> str:
    return _("{n} · {amount}").format(n=w.count, amount=fmt(w.cost))


def user(user_id: int) -> str:
    return _("user {id}").format(id=user_id)


def unknown_costs(books: Books, fmt: Fmt) -> list[str]:
    """The honest part: what the cost and the margin leave out."""
    lines = []
    if books.unknown_cost:
        lines.append(
            ngettext(
                "Cost unknown: {n} purchase (left out of the cost)",
                "Cost unknown: {n} purchases (left out of the cost)",
                books.unknown_cost,
            ).format(n=books.unknown_cost)
        )
    if books.unsettled:
        lines.append(
            ngettext(
                "Not settled yet: {n} purchase (left out of the cost)",
                "Not settled yet: {n} purchases (left out of the cost)",
                books.unsettled,
            ).format(n=books.unsettled)
        )
    if books.unpriced_sales:
        lines.append(
            ngettext(
                "Left out of the margin: {amount} from {n} sale whose cost is not known",
                "Left out of the margin: {amount} from {n} sales whose cost is not known",
                books.unpriced_sales,
            ).format(amount=fmt(books.unpriced_revenue), n=books.unpriced_sales)
        )
    return lines
