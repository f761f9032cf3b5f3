"""The upstreams screen: each upstream's switch, breaker, balance and last error."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n.lazy_proxy import LazyProxy

from bot.operator.upstreams import UpstreamInfo
from handlers.admin.texts.panel import label
from providers.guard import BreakerState

#: a circuit breaker's state as the operator reads it
BREAKER_STATES: dict[str, LazyProxy] = {
    BreakerState.CLOSED: __("closed"),
    BreakerState.OPEN: __("open"),
    BreakerState.HALF_OPEN: __("half-open"),
}


def upstreams(infos: list[UpstreamInfo]) -> str:
    lines = [_("🔌 <b>Upstreams</b>")]
    for info in infos:
        state = _("enabled") if info.enabled else _("disabled")
        title = _("<b>{name}</b> · {state} · breaker {breaker}").format(
            name=escape(info.name), state=state, breaker=label(BREAKER_STATES, info.breaker)
        )
        lines.append("\n" + title)
        if info.balance is not None:
            lines.append(_("Balance: {balance}").format(balance=escape(info.balance)))
        elif info.balance_error:
            lines.append(_("Balance: not available ({error})").format(error=escape(info.balance_error)))
        if info.last_error:
            lines.append(_("Last error: {error}").format(error=escape(info.last_error)))
    if not infos:
        lines.append(_("No upstream is configured."))
    return "\n".join(lines)


def no_such_upstream() -> str:
    return _("No such upstream.")


def switched(enabled: bool) -> str:
    return _("Enabled.") if enabled else _("Disabled.")


def toggle_button(name: str, enabled: bool) -> str:
    """The button that flips an upstream: it says what a tap does."""
    text = _("⏸ Disable {name}") if enabled else _("▶️ Enable {name}")
    return text.format(name=name)
