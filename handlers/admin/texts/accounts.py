"""Texts of the operator's user screen and of every balance change an admin makes (/credit, /debit and the
panel's Credit and Debit buttons): the card, the prompts, the outcomes, and what the user is told."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _

from bot.operator.accounts import UserCard
from handlers.admin.texts.panel import Fmt, none
from handlers.texts import labels
from handlers.texts.balance import moment
from handlers.texts.labels import ledger_kind, order_status


def users_help() -> str:
    return _("👥 <b>Users</b>\nSend <code>/user &lt;telegram_id&gt;</code> or <code>/user @username</code>.")


def no_match(query: str | int) -> str:
    shown = escape(str(query)[:64])  # an echo never makes the answer too long for Telegram
    return _("No user matches {query}.").format(query=shown)


def yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


def user_card(card: UserCard, fmt: Fmt) -> str:
    user = card.user
    name = escape(user.first_name) + (f" @{escape(user.username)}" if user.username else "")
    lines = [
        _("👤 <b>{name}</b> · id <code>{id}</code>").format(name=name, id=user.id),
        _("Balance: {balance}").format(balance=fmt(user.balance)),
        _("Banned: {banned} · blocked the bot: {blocked}").format(
            banned=yes_no(user.is_banned), blocked=yes_no(user.is_blocked)
        ),
        "\n" + _("<b>Last ledger entries</b>"),
    ]
    for e in card.entries:
        sign = "+" if e.amount > 0 else "−"
        reason = f" · {escape(e.reason)}" if e.reason else ""
        lines.append(labels.line(f"{moment(e.created_at)} {sign}{fmt(abs(e.amount))} {ledger_kind(e.kind)}{reason}"))
    if not card.entries:
        lines.append(none())
    lines.append("\n" + _("<b>Last orders</b>"))
    for o in card.orders:
        service = escape(labels.service(o.service))
        country = escape(labels.country(o.country))
        lines.append(labels.line(f"#{o.id} {service} {country} · {order_status(o.status)} · {fmt(o.price)}"))
    if not card.orders:
        lines.append(none())
    return "\n".join(lines)


def banned(value: bool) -> str:
    return _("Banned.") if value else _("Unbanned.")


def no_such_user() -> str:
    return _("No such user.")


def ask_amount(credit: bool) -> str:
    if credit:
        return _("Send the amount to credit and a reason, e.g. <code>5.50 bonus</code>.")
    return _("Send the amount to debit and a reason, e.g. <code>1.00 correction</code>.")


def amount_usage() -> str:
    return _("Send an amount and a reason, e.g. <code>5.50 bonus</code>.")


def command_usage(command: str) -> str:
    return _(
        "Usage: <code>/{command} &lt;telegram_id&gt; &lt;amount&gt; [reason]</code>, e.g. /{command} 12345 5.50 bonus"
    ).format(command=command)


def default_reason(credit: bool) -> str:
    """The ledger's reason when the admin gave none: stored, so never translated."""
    return "manual credit" if credit else "manual debit"


def not_started(user_id: int) -> str:
    return _("User {id} has not started the bot yet.").format(id=user_id)


def too_little(user_id: int, balance: str) -> str:
    return _("User {id} has only {balance}; nothing was debited.").format(id=user_id, balance=balance)


def too_much(user_id: int) -> str:
    return _("That would take the balance of {id} beyond what it can hold; nothing changed.").format(id=user_id)


def already_done() -> str:
    return _("Already done.")


def changed(credit: bool, user_id: int, amount: str, balance: str) -> str:
    """The admin's confirmation of a balance change."""
    if credit:
        text = _("Credited {amount} to {id}. New balance: {balance}.")
    else:
        text = _("Debited {amount} from {id}. New balance: {balance}.")
    return text.format(amount=amount, id=user_id, balance=balance)


def told(credit: bool, amount: str, balance: str) -> str:
    """What the user is told about a balance change an admin made."""
    if credit:
        text = _("💰 Your balance was topped up by {amount}. Balance: {balance}.")
    else:
        text = _("Your balance was reduced by {amount} by the administrators. Balance: {balance}.")
    return text.format(amount=amount, balance=balance)
