"""Texts of the operator's panel screens: pure functions, HTML."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from html import escape

from aiogram.utils.i18n import gettext as _

from bot.admin_users import UserCard
from bot.stats import PERIODS, Quality, Report
from bot.upstreams import UpstreamInfo
from providers.services import service_name
from storage.orders import OrderStatus

Fmt = Callable[[int], str]
TOP = 10  # rows per breakdown


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
            lines.append(f"{status}: " + " / ".join(str(c) for c in counts))
    lines.append(_("total: {counts}").format(counts=" / ".join(str(sum(report.orders[p].values())) for p in PERIODS)))
    lines.append("\n" + _("<b>Money</b> (today / 7 d / all)"))
    money = [report.money[p] for p in PERIODS]
    lines.append(_("Revenue: {values}").format(values=" / ".join(fmt(m.revenue) for m in money)))
    lines.append(_("Upstream cost: {values}").format(values=" / ".join(fmt(m.cost) for m in money)))
    lines.append(_("Margin: {values}").format(values=" / ".join(fmt(m.margin) for m in money)))
    if money[-1].unpriced:
        lines.append(_("({n} orders with an unknown cost are left out of the cost)").format(n=money[-1].unpriced))
    lines += _quality(_("By upstream"), report.by_provider, str)
    lines += _quality(_("By service"), report.by_service, service_name)
    lines += _quality(_("By country"), report.by_country, str)
    return "\n".join(lines)


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
