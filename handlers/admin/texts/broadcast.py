"""Texts of /broadcast: the steps of the form, the audiences, the preview and the progress report."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from storage.broadcasts import Counts


def audience_name(audience: str) -> str:
    """A stored audience (``all``, ``active:<days>``, ``balance``, ``buyers``) as the admin reads it."""
    kind, _sep, days = audience.partition(":")
    if kind == "active" and days.isdigit():
        return ngettext("Active in the last {days} day", "Active in the last {days} days", int(days)).format(days=days)
    return {
        "all": _("All users"),
        "balance": _("With a balance"),
        "buyers": _("Bought at least once"),
    }.get(kind, _("other"))


def recipients(n: int) -> str:
    return ngettext("{n} recipient", "{n} recipients", n).format(n=n)


def ask_message() -> str:
    return _(
        "📣 Send me the message to broadcast: text with formatting, a photo with a caption, anything. "
        "It is copied to every recipient as it is.\n/cancel to stop."
    )


def cancelled() -> str:
    return _("Broadcast cancelled.")


def ask_button() -> str:
    return _("Add a link button under it? Send <code>Text | https://…</code>, or /skip for none.")


def bad_button() -> str:
    return _("That is not <code>Text | https://…</code>. Send it again, or /skip.")


def ask_audience() -> str:
    return _("Who receives it?")


def stale_screen() -> str:
    return _("This screen is no longer current. Start again with /broadcast.")


def refused(error: str) -> str:
    return _("Telegram refused this message: {error}\nStart again with /broadcast.").format(error=escape(error))


def preview(audience: str, size: int) -> str:
    """Under the copy of the message: who gets it, then the question (or that nobody would)."""
    line = _("⬆️ Preview. Audience: {name} · {recipients}.").format(
        name=audience_name(audience), recipients=f"<b>{recipients(size)}</b>"
    )
    return line + "\n" + (_("Send it?") if size else _("Nobody to send to."))


def stale_preview() -> str:
    return _("This preview is no longer current.")


def started(broadcast_id: int, n: int, created: bool) -> str:
    if created:
        return _("Broadcast #{id} started: {recipients}.").format(id=broadcast_id, recipients=recipients(n))
    return _("Broadcast #{id} is already running.").format(id=broadcast_id)


def stopped(cancelled: bool) -> str:
    if cancelled:
        return _("Cancelled. The remaining recipients will not get it.")
    return _("This broadcast is no longer running.")


def progress_text(broadcast_id: int, audience: str, counts: Counts, status: str) -> str:
    """The progress message (``status`` running) or the final report (done / cancelled)."""
    title = {
        "running": _("📣 <b>Broadcast #{id}</b> is being sent"),
        "done": _("✅ <b>Broadcast #{id}</b> finished"),
        "cancelled": _("⏹ <b>Broadcast #{id}</b> was cancelled"),
    }.get(status, _("📣 <b>Broadcast #{id}</b>"))
    lines = [
        title.format(id=broadcast_id),
        _("Audience: {name} · {recipients}").format(
            name=escape(audience_name(audience)), recipients=recipients(counts.total)
        ),
        _("Sent: {n}").format(n=counts.sent),
        _("Unreachable (blocked the bot): {n}").format(n=counts.unreachable),
        _("Failed: {n}").format(n=counts.failed),
    ]
    remaining = counts.pending + counts.sending
    if status == "running":
        lines.append(_("Remaining: {n}").format(n=remaining))
    elif remaining:
        lines.append(_("Not sent: {n}").format(n=remaining))
    return "\n".join(lines)
