"""Texts the services' events become: the admins' alerts, a late top-up's receipt, maintenance.

The services hand over data (:mod:`bot.notifications`); :class:`handlers.notifier.Notifier` renders it
here, inside an i18n context. Pure functions that return HTML.
"""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _

from bot.money.billing import money
from bot.notifications import (
    Alert,
    BackupFailed,
    DatabaseUnusable,
    HandlerErrors,
    LowBalance,
    PollLagging,
    PollOverrun,
    TelegramUnreachable,
    UnclearRefund,
    UpstreamFailing,
)
from handlers.texts import labels


def receipt(amount: str, balance: str) -> str:
    """The user's receipt for a credited top-up."""
    return _("✅ Topped up {amount}. Balance: <b>{balance}</b>.").format(amount=amount, balance=balance)


def maintenance_text() -> str:
    """What a user is told while the database cannot be used (``handlers/errors.py``)."""
    return _("🛠 The bot is under maintenance. Nothing was charged; please try again later.")


def duration(seconds: int) -> str:
    """``H:MM:SS``: a length of time every language reads without a plural."""
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def alert_text(alert: Alert) -> str:
    """The admins' message for an alert."""
    match alert:
        case LowBalance():
            return _("⚠️ Upstream {name}: balance {balance} is under {threshold}.").format(
                name=alert.upstream,
                balance="?" if alert.balance is None else money(alert.balance, alert.currency),
                threshold=money(alert.threshold, alert.currency),
            )
        case UpstreamFailing():
            return _("⚠️ Upstream {name} is failing and out of routing: {error}").format(
                name=alert.upstream, error=escape(alert.error or "?")
            )
        case UnclearRefund(order=order):
            return _(
                "⚠️ Order #{id} ({service}, {country}) at {provider} ended unclear and was refunded to user "
                "{user}. Check the upstream account for a number bought without an order."
            ).format(
                id=order.id,
                service=escape(labels.service(order.service)),
                country=escape(labels.country(order.country)),
                provider=order.provider,
                user=order.user_id,
            )
        case DatabaseUnusable():
            return _(
                "🛑 The database is unusable: {problem}.\n"
                "The bot takes no orders and no money and tells users it is under maintenance. Put the "
                "database file back (from the latest backup), then restart the bot."
            ).format(problem=escape(alert.problem))
        case PollOverrun():
            return _(
                "⚠️ The poll job cannot keep up with the open orders: codes may reach users late.\n"
                "Open orders: {orders}\n"
                "Run: {seconds} s, interval {interval} s\n"
                "Status checks: {checks}, bulk reads: {bulk}\n"
                "Checks left for later runs: {deferred}"
            ).format(
                orders=alert.orders,
                seconds=f"{alert.seconds:.1f}",
                interval=f"{alert.interval:g}",
                checks=alert.checks,
                bulk=alert.bulk_calls,
                deferred=alert.deferred,
            )
        case HandlerErrors():
            return _(
                "⚠️ Updates that failed in handlers in the last {minutes} min: {count}, more than "
                "ERROR_ALERT_THRESHOLD. Each error is in the log. You are told again only after the rate falls."
            ).format(minutes=alert.minutes, count=alert.count)
        case BackupFailed():
            return _("🛑 The backup failed: {problem}\nFile: <code>{path}</code>").format(
                problem=escape(alert.problem), path=escape(alert.path)
            )
        case TelegramUnreachable():
            return _(
                "⚠️ Telegram was unreachable for {duration} (h:mm:ss), last error: {error}. It answers again; "
                "messages to users may have been late or missed in that time."
            ).format(duration=duration(alert.seconds), error=escape(alert.error))
        case PollLagging():
            return _(
                "⚠️ No poll run finished for {seconds} s (interval {interval} s): codes are not being fetched. "
                "Check the log and the upstreams."
            ).format(seconds=alert.seconds, interval=f"{alert.interval:g}")
