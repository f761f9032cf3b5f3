"""Texts of the operator's panel screens: pure functions, HTML."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from html import escape

from aiogram.utils.i18n import gettext as _

from bot.money.audit import AuditReport, Books, Issue, WriteOffs
from bot.operator.accounts import UserCard
from bot.operator.stats import PERIODS, Quality, Report
from bot.operator.upstreams import UpstreamInfo
from providers.names import service_name
from storage.orders import OrderStatus
from storage.purchases import WriteOff

Fmt = Callable[[int], str]
TOP = 10  # rows per breakdown
TOP_USERS = 5  # users listed by write-offs
MESSAGE_LIMIT = 4096  # characters in one Telegram message


def order_status(status: str) -> str:
    """An order status as the operator reads it."""
    labels: dict[str, str] = {
        OrderStatus.PENDING: _("pending"),
        OrderStatus.ACTIVE: _("active"),
        OrderStatus.CODE_RECEIVED: _("code received"),
        OrderStatus.COMPLETED: _("completed"),
        OrderStatus.CANCELLED: _("cancelled"),
        OrderStatus.EXPIRED: _("expired"),
        OrderStatus.FAILED: _("failed"),
        OrderStatus.UNKNOWN: _("unclear"),
    }
    return labels.get(status, status)


def renewal_status(status: str) -> str:
    labels = {
        "pending": _("renewal pending"),
        "unknown": _("renewal unclear"),
        "done": _("renewed"),
        "refunded": _("renewal refunded"),
    }
    return labels.get(status, status)


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
    labels = {"topup": _("payments"), "promo": _("promo codes"), "admin_credit": _("admin credits")}
    return labels.get(kind, kind)


def _count_cost(w: WriteOffs, fmt: Fmt) -> str:
    return _("{n} · {amount}").format(n=w.count, amount=fmt(w.cost))


def menu() -> str:
    return _("🛠 <b>Admin panel</b>\nChoose a section.")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def _quality(title: str, groups: list[Quality], name: Callable[[str], str]) -> list[str]:
    lines = [f"\n<b>{title}</b>"]
    for g in groups[:TOP]:
        lines.append(
            _("{name}: {codes}/{orders} with a code ({share}%) · median {median}").format(
                name=escape(name(g.key)),
                codes=g.with_code,
                orders=g.orders,
                share=g.share,
                median=duration(g.median_seconds),
            )
        )
    if not groups:
        lines.append(_("no finished orders yet"))
    return lines


def stats(report: Report, fmt: Fmt) -> str:
    u = report.users
    lines = [
        _("📊 <b>Statistics</b>"),
        _("Users: {total} · active 24 h: {day} · active 7 d: {week} · blocked the bot: {blocked}").format(
            total=u.total, day=u.active_day, week=u.active_week, blocked=u.blocked
        ),
        "\n" + _("<b>Orders</b> (today / 7 d / all)"),
    ]
    for status in OrderStatus:
        counts = [report.orders[p].get(status, 0) for p in PERIODS]
        if any(counts):
            lines.append(
                _("{status}: {counts}").format(status=order_status(status), counts=" / ".join(str(c) for c in counts))
            )
    lines.append(_("total: {counts}").format(counts=" / ".join(str(sum(report.orders[p].values())) for p in PERIODS)))
    lines.append("\n" + _("<b>Money</b> (today / 7 d / all)"))
    money = [report.money[p] for p in PERIODS]
    lines.append(_("Revenue: {values}").format(values=" / ".join(fmt(m.revenue) for m in money)))
    lines.append(_("Upstream cost: {values}").format(values=" / ".join(fmt(m.cost) for m in money)))
    lines.append(
        _("of which written off: {values}").format(values=" / ".join(_count_cost(m.written_off, fmt) for m in money))
    )
    lines.append(_("Margin: {values}").format(values=" / ".join(fmt(m.margin) for m in money)))
    lines += _unknown_costs(money[-1], fmt)
    lines += _stats_write_offs(report.money, fmt)
    lines += _quality(_("By upstream"), report.by_provider, str)
    lines += _quality(_("By service"), report.by_service, service_name)
    lines += _quality(_("By country"), report.by_country, str)
    return "\n".join(lines)


def _unknown_costs(books: Books, fmt: Fmt) -> list[str]:
    """The honest part: what the cost and the margin leave out."""
    lines = []
    if books.unknown_cost:
        lines.append(_("Cost unknown: {n} purchases (left out of the cost)").format(n=books.unknown_cost))
    if books.unsettled:
        lines.append(_("Not settled yet: {n} purchases (left out of the cost)").format(n=books.unsettled))
    if books.unpriced_sales:
        lines.append(
            _("Left out of the margin: {amount} from {n} sales whose cost is not known").format(
                amount=fmt(books.unpriced_revenue), n=books.unpriced_sales
            )
        )
    return lines


def _stats_write_offs(money: dict[str, Books], fmt: Fmt) -> list[str]:
    """Write-offs per upstream for each period, and the users with the most of them."""
    everything = money[PERIODS[-1]]
    lines = ["\n" + _("<b>Write-offs by upstream</b> (today / 7 d / all)")]
    for name, _all in everything.providers()[:TOP]:
        values = " / ".join(_count_cost(money[p].by_provider.get(name, WriteOffs()), fmt) for p in PERIODS)
        lines.append(_("{name}: {values}").format(name=escape(name), values=values))
    if not everything.by_provider:
        lines.append(_("none"))
        return lines
    lines.append("\n" + _("<b>Write-offs by user</b> (all)"))
    for user_id, w in everything.top_users(TOP_USERS):
        lines.append(_("user {id}: {values}").format(id=user_id, values=_count_cost(w, fmt)))
    return lines


def _issue_line(issue: Issue, fmt: Fmt) -> str:
    templates = {
        "balance": _("User {id}: balance {found}, but the ledger sums to {expected}"),
        "negative": _("User {id}: negative balance {found}"),
        "charge": _("Order #{id} ({status}): charged {found}, price {expected}")
        if issue.found
        else _("Order #{id} ({status}): no charge row"),
        "no_refund": _("Order #{id} ({status}): no refund row"),
        "bad_refund": _("Order #{id} ({status}): refunded {found}, price {expected}"),
        "stray_refund": _("Order #{id} ({status}): refunded {found}, but the order kept its money"),
        "renewal_charge": _("Order #{id}, renewal #{item} ({status}): charged {found}, price {expected}")
        if issue.found
        else _("Order #{id}, renewal #{item} ({status}): no charge row"),
        "renewal_no_refund": _("Order #{id}, renewal #{item} ({status}): no refund row"),
        "renewal_bad_refund": _("Order #{id}, renewal #{item} ({status}): refunded {found}, price {expected}"),
        "renewal_stray_refund": _(
            "Order #{id}, renewal #{item} ({status}): refunded {found}, but the renewal kept its money"
        ),
        "unsettled": _("Order #{id} ({status}): upstream purchase #{item} has no outcome"),
        "sold_refunded": _("Order #{id} ({status}): the user was refunded, but upstream purchase #{item} is sold"),
        "kept_written_off": _(
            "Order #{id} ({status}): the order kept its money, but upstream purchase #{item} is written off"
        ),
        "kept_upstream_refunded": _(
            "Order #{id} ({status}): the order kept its money, but upstream purchase #{item} was refunded upstream"
        ),
        "orphan": _("Ledger row #{id} ({status}): its order does not exist"),
        "renewal_orphan": _("Ledger row #{id} ({status}): no renewal has this reference"),
    }
    if issue.kind in ("orphan", "renewal_orphan"):
        status = issue.detail  # the row's reference
    elif issue.kind.startswith("renewal_"):
        status = renewal_status(issue.detail)
    else:
        status = order_status(issue.detail)
    template = templates.get(issue.kind, _("{kind} {id}"))
    return "• " + template.format(
        id=issue.subject,
        item=issue.item,
        kind=escape(issue.kind),
        status=escape(status),
        found=fmt(issue.found),
        expected=fmt(issue.expected),
    )


def _audit_write_offs(books: Books, fmt: Fmt) -> list[str]:
    w = books.written_off
    line = _("Written off: {n} purchases costing {amount}").format(n=w.count, amount=fmt(w.cost))
    if w.unknown:
        line += " " + _("({n} of them with an unknown cost)").format(n=w.unknown)
    lines = [line]
    if not w.count:
        return lines
    lines.append(
        _("by upstream: {values}").format(
            values=", ".join(
                _("{name} {values}").format(name=escape(name), values=_count_cost(x, fmt))
                for name, x in books.providers()
            )
        )
    )
    lines.append(
        _("by reason: {values}").format(
            values=", ".join(
                _("{name} {values}").format(name=write_off_reason(reason), values=_count_cost(x, fmt))
                for reason, x in books.reasons()
            )
        )
    )
    lines.append(
        _("top users: {values}").format(
            values=", ".join(
                _("{name} {values}").format(name=_("user {id}").format(id=user_id), values=_count_cost(x, fmt))
                for user_id, x in books.top_users(TOP_USERS)
            )
        )
    )
    return lines


def audit_text(report: AuditReport, fmt: Fmt, cap: int = 30) -> str:
    """The /audit answer: the contradictions found (at most ``cap``, and no more than fit in one
    message), then the period's books."""
    tail = _audit_books(report, fmt)
    if report.ok:
        return "\n".join([_("✅ ok: balances, orders, renewals, upstream purchases and the ledger agree."), *tail])
    head = _("❌ {n} discrepancies:").format(n=len(report.issues))
    lines = [_issue_line(issue, fmt) for issue in report.issues[:cap]]
    shown = len(lines)
    while True:
        more = [_("+{n} more").format(n=len(report.issues) - shown)] if len(report.issues) > shown else []
        text = "\n".join([head, *lines[:shown], *more, *tail])
        if len(text) <= MESSAGE_LIMIT or shown == 0:
            return text
        shown -= 1


def _audit_books(report: AuditReport, fmt: Fmt) -> list[str]:
    books = report.money
    revenue = _("Revenue: {amount} from {n} orders").format(amount=fmt(books.revenue), n=books.orders)
    if books.renewals:
        revenue += " " + _("and {n} renewals").format(n=books.renewals)
    lines = [
        "",
        _("Last {days} days (since {since}):").format(
            days=report.days, since=report.since.strftime("%Y-%m-%d %H:%M UTC")
        ),
        revenue,
        _("Upstream cost: {amount}").format(amount=fmt(books.cost)),
    ]
    lines += _audit_write_offs(books, fmt)
    if books.upstream_refunded:
        lines.append(_("Given back by the upstream: {n} purchases (no cost)").format(n=books.upstream_refunded))
    lines += _unknown_costs(books, fmt)
    lines.append(_("Margin: {amount}").format(amount=fmt(books.margin)))
    topups = ", ".join(
        _("{name} {amount}").format(name=topup_kind(kind), amount=fmt(total))
        for kind, total in sorted(report.topups.items())
    )
    lines.append(
        _("Top-ups: {amount}").format(amount=fmt(sum(report.topups.values()))) + (f" ({topups})" if topups else "")
    )
    lines.append(_("Refunds: {amount} ({n})").format(amount=fmt(report.refunds), n=report.refund_rows))
    return lines


def amount_rule(maximum: int, fmt: Fmt) -> str:
    """The line under every usage that takes an amount: what an amount may be."""
    return _("An amount is a plain number above 0 and at most {max}, e.g. 5.50.").format(max=fmt(maximum))


def users_help() -> str:
    return _("👥 <b>Users</b>\nSend <code>/user &lt;telegram_id&gt;</code> or <code>/user @username</code>.")


def user_card(card: UserCard, fmt: Fmt) -> str:
    user = card.user
    name = escape(user.first_name) + (f" @{escape(user.username)}" if user.username else "")
    lines = [
        _("👤 <b>{name}</b> · id <code>{id}</code>").format(name=name, id=user.id),
        _("Balance: {balance}").format(balance=fmt(user.balance)),
        _("Banned: {banned} · blocked the bot: {blocked}").format(
            banned=_("yes") if user.is_banned else _("no"), blocked=_("yes") if user.is_blocked else _("no")
        ),
        "\n" + _("<b>Last ledger entries</b>"),
    ]
    for e in card.entries:
        sign = "+" if e.amount > 0 else "−"
        reason = f" · {escape(e.reason)}" if e.reason else ""
        lines.append(f"{e.created_at[:16].replace('T', ' ')} {sign}{fmt(abs(e.amount))} {e.kind}{reason}")
    if not card.entries:
        lines.append(_("none"))
    lines.append("\n" + _("<b>Last orders</b>"))
    for o in card.orders:
        lines.append(f"#{o.id} {escape(service_name(o.service))} {o.country} · {o.status} · {fmt(o.price)}")
    if not card.orders:
        lines.append(_("none"))
    return "\n".join(lines)


def upstreams(infos: list[UpstreamInfo]) -> str:
    lines = [_("🔌 <b>Upstreams</b>")]
    for info in infos:
        state = _("enabled") if info.enabled else _("disabled")
        lines.append(
            "\n"
            + _("<b>{name}</b> · {state} · breaker {breaker}").format(
                name=escape(info.name), state=state, breaker=info.breaker
            )
        )
        if info.balance is not None:
            lines.append(_("Balance: {balance}").format(balance=escape(info.balance)))
        elif info.balance_error:
            lines.append(_("Balance: not available ({error})").format(error=escape(info.balance_error)))
        if info.last_error:
            lines.append(_("Last error: {error}").format(error=escape(info.last_error)))
    if not infos:
        lines.append(_("No upstream is configured."))
    return "\n".join(lines)


def prices(markup: Decimal, overrides: list[tuple[str, str, int]], fmt: Fmt) -> str:
    lines = [_("🏷 <b>Prices</b>"), _("Markup: {markup}%").format(markup=markup), "", _("<b>Overrides</b>")]
    lines += [f"{escape(service_name(s))} ({escape(s)}) · {escape(c)}: {fmt(p)}" for s, c, p in overrides]
    if not overrides:
        lines.append(_("none"))
    lines += [
        "",
        _(
            "Change with <code>/markup 35</code>, <code>/price whatsapp US 0.99</code> or "
            "<code>/price whatsapp US off</code>."
        ),
    ]
    return "\n".join(lines)
