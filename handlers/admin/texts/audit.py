"""The /audit answer: the contradictions the audit found, then the period's books."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext
from aiogram.utils.i18n.lazy_proxy import LazyProxy

from bot.money.audit import AuditReport, Books, Issue
from handlers.admin.texts.books import (
    TOP_USERS,
    TOPUP_KINDS,
    WRITE_OFF_REASONS,
    Fmt,
    count_cost,
    unknown_costs,
    user,
)
from handlers.admin.texts.panel import label
from handlers.texts.labels import order_status

MESSAGE_LIMIT = 4096  # characters in one Telegram message


def usage() -> str:
    return _("Usage: <code>/audit [days]</code>, e.g. /audit 7 (default 30)")


#: a renewal's status, where an audit line names it
RENEWAL_STATUSES: dict[str, LazyProxy] = {
    "pending": __("renewal pending"),
    "unknown": __("renewal unclear"),
    "done": __("renewed"),
    "refunded": __("renewal refunded"),
}


def _issues() -> dict[str, str]:
    """An audit line per kind of contradiction: an order's, then a renewal's."""
    return {
        "balance": _("User {id}: balance {found}, but the ledger sums to {expected}"),
        "negative": _("User {id}: negative balance {found}"),
        "charge": _("Order #{id} ({status}): charged {found}, price {expected}"),
        "no_charge": _("Order #{id} ({status}): no charge row"),
        "no_refund": _("Order #{id} ({status}): no refund row"),
        "bad_refund": _("Order #{id} ({status}): refunded {found}, price {expected}"),
        "stray_refund": _("Order #{id} ({status}): refunded {found}, but the order kept its money"),
        "unsettled": _("Order #{id} ({status}): upstream purchase #{item} has no outcome"),
        "sold_refunded": _("Order #{id} ({status}): the user was refunded, but upstream purchase #{item} is sold"),
        "kept_written_off": _(
            "Order #{id} ({status}): the order kept its money, but upstream purchase #{item} is written off"
        ),
        "kept_upstream_refunded": _(
            "Order #{id} ({status}): the order kept its money, but upstream purchase #{item} was refunded upstream"
        ),
        "orphan": _("Ledger row #{id} ({status}): its order does not exist"),
        "renewal_charge": _("Order #{id}, renewal #{item} ({status}): charged {found}, price {expected}"),
        "renewal_no_charge": _("Order #{id}, renewal #{item} ({status}): no charge row"),
        "renewal_no_refund": _("Order #{id}, renewal #{item} ({status}): no refund row"),
        "renewal_bad_refund": _("Order #{id}, renewal #{item} ({status}): refunded {found}, price {expected}"),
        "renewal_stray_refund": _(
            "Order #{id}, renewal #{item} ({status}): refunded {found}, but the renewal kept its money"
        ),
        "renewal_orphan": _("Ledger row #{id} ({status}): no renewal has this reference"),
        "stray_referral": _(
            "Ledger row #{id} ({status}): a referral bonus whose order is not completed, or not for the buyer's inviter"
        ),
    }


def _issue_line(issue: Issue, fmt: Fmt) -> str:
    kind = issue.kind
    if kind in ("charge", "renewal_charge") and not issue.found:
        kind = kind.replace("charge", "no_charge")
    if kind in ("orphan", "renewal_orphan", "stray_referral"):
        status = issue.detail  # the row's reference
    elif kind.startswith("renewal_"):
        status = label(RENEWAL_STATUSES, issue.detail)
    else:
        status = order_status(issue.detail)
    template = _issues().get(kind, _("{kind} {id}"))
    return "• " + template.format(
        id=issue.subject,
        item=issue.item,
        kind=escape(issue.kind),
        status=escape(status),
        found=fmt(issue.found),
        expected=fmt(issue.expected),
    )


def _joined(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(_("{name} {values}").format(name=name, values=values) for name, values in pairs)


def _write_offs(books: Books, fmt: Fmt) -> list[str]:
    w = books.written_off
    line = ngettext(
        "Written off: {n} purchase costing {amount}", "Written off: {n} purchases costing {amount}", w.count
    ).format(n=w.count, amount=fmt(w.cost))
    if w.unknown:
        line += " " + _("({n} of them with an unknown cost)").format(n=w.unknown)
    if not w.count:
        return [line]
    providers = [(escape(name), count_cost(x, fmt)) for name, x in books.providers()]
    reasons = [(label(WRITE_OFF_REASONS, reason), count_cost(x, fmt)) for reason, x in books.reasons()]
    users = [(user(user_id), count_cost(x, fmt)) for user_id, x in books.top_users(TOP_USERS)]
    return [
        line,
        _("by upstream: {values}").format(values=_joined(providers)),
        _("by reason: {values}").format(values=_joined(reasons)),
        _("top users: {values}").format(values=_joined(users)),
    ]


def audit_text(report: AuditReport, fmt: Fmt, cap: int = 30) -> str:
    """The contradictions found (at most ``cap``, and no more than fit in one message), then the books."""
    tail = _books(report, fmt)
    if report.ok:
        return "\n".join([_("✅ ok: balances, orders, renewals, upstream purchases and the ledger agree."), *tail])
    found = len(report.issues)
    head = ngettext("❌ {n} discrepancy:", "❌ {n} discrepancies:", found).format(n=found)
    lines = [_issue_line(issue, fmt) for issue in report.issues[:cap]]
    shown = len(lines)
    while True:
        more = [_("+{n} more").format(n=found - shown)] if found > shown else []
        text = "\n".join([head, *lines[:shown], *more, *tail])
        if len(text) <= MESSAGE_LIMIT or shown == 0:
            return text
        shown -= 1


def _books(report: AuditReport, fmt: Fmt) -> list[str]:
    books = report.money
    # "from 1 orders" is what the end-to-end test of /audit reads: this line stays without a plural form
    revenue = _("Revenue: {amount} from {n} orders").format(amount=fmt(books.revenue), n=books.orders)
    if books.renewals:
        revenue += " " + ngettext("and {n} renewal", "and {n} renewals", books.renewals).format(n=books.renewals)
    days = ngettext("Last {days} day (since {since}):", "Last {days} days (since {since}):", report.days)
    lines = ["", days.format(days=report.days, since=report.since.strftime("%Y-%m-%d %H:%M UTC"))]
    lines += [revenue, _("Upstream cost: {amount}").format(amount=fmt(books.cost))]
    lines += _write_offs(books, fmt)
    if books.upstream_refunded:
        lines.append(
            ngettext(
                "Given back by the upstream: {n} purchase (no cost)",
                "Given back by the upstream: {n} purchases (no cost)",
                books.upstream_refunded,
            ).format(n=books.upstream_refunded)
        )
    lines += unknown_costs(books, fmt)
    lines.append(_("Margin: {amount}").format(amount=fmt(books.margin)))
    topups = [(label(TOPUP_KINDS, kind), fmt(total)) for kind, total in sorted(report.topups.items())]
    total = _("Top-ups: {amount}").format(amount=fmt(sum(report.topups.values())))
    lines.append(total + (f" ({_joined(topups)})" if topups else ""))
    bonuses, paid = report.referrals
    lines.append(_("Referral bonuses: {amount} ({n})").format(amount=fmt(paid), n=bonuses))
    lines.append(_("Refunds: {amount} ({n})").format(amount=fmt(report.refunds), n=report.refund_rows))
    return lines
