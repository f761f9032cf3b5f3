"""The statistics screen: users, orders by status, money and write-offs per period, delivery quality."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from aiogram.utils.i18n import gettext as _

from bot.money.audit import Books, WriteOffs
from bot.operator.stats import PERIODS, Quality, Report
from handlers.admin.texts.books import TOP_USERS, Fmt, count_cost, unknown_costs, user
from handlers.admin.texts.panel import none
from handlers.texts import labels
from handlers.texts.labels import order_status
from storage.orders import OrderStatus

TOP = 10  # rows per breakdown


def duration(seconds: float | None) -> str:
    """A median time to the code, short: ``42s``, ``3m 05s``, ``1h 02m``."""
    if seconds is None:
        return "—"
    whole = int(seconds)
    if whole < 60:
        return _("{s}s").format(s=whole)
    if whole < 3600:
        return _("{m}m {s:02d}s").format(m=whole // 60, s=whole % 60)
    return _("{h}h {m:02d}m").format(h=whole // 3600, m=whole % 3600 // 60)


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


def _per_period(values: list[str]) -> str:
    return " / ".join(values)


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
                _("{status}: {counts}").format(
                    status=order_status(status), counts=_per_period([str(c) for c in counts])
                )
            )
    totals = [str(sum(report.orders[p].values())) for p in PERIODS]
    lines.append(_("total: {counts}").format(counts=_per_period(totals)))
    lines.append("\n" + _("<b>Money</b> (today / 7 d / all)"))
    money = [report.money[p] for p in PERIODS]
    lines.append(_("Revenue: {values}").format(values=_per_period([fmt(m.revenue) for m in money])))
    lines.append(_("Upstream cost: {values}").format(values=_per_period([fmt(m.cost) for m in money])))
    written_off = _per_period([count_cost(m.written_off, fmt) for m in money])
    lines.append(_("of which written off: {values}").format(values=written_off))
    lines.append(_("Margin: {values}").format(values=_per_period([fmt(m.margin) for m in money])))
    lines += unknown_costs(money[-1], fmt)
    lines += _write_offs(report.money, fmt)
    lines += _quality(_("By upstream"), report.by_provider, str)
    lines += _quality(_("By service"), report.by_service, labels.service)
    lines += _quality(_("By country"), report.by_country, labels.country)
    return "\n".join(lines)


def _write_offs(money: dict[str, Books], fmt: Fmt) -> list[str]:
    """Write-offs per upstream for each period, and the users with the most of them."""
    everything = money[PERIODS[-1]]
    lines = ["\n" + _("<b>Write-offs by upstream</b> (today / 7 d / all)")]
    for name, _all in everything.providers()[:TOP]:
        values = _per_period([count_cost(money[p].by_provider.get(name, WriteOffs()), fmt) for p in PERIODS])
        lines.append(_("{name}: {values}").format(name=escape(name), values=values))
    if not everything.by_provider:
        lines.append(none())
        return lines
    lines.append("\n" + _("<b>Write-offs by user</b> (all)"))
    for user_id, w in everything.top_users(TOP_USERS):
        lines.append(_("{name}: {values}").format(name=user(user_id), values=count_cost(w, fmt)))
    return lines
