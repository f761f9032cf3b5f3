"""Texts shared by the whole admin side: the panel's menu, the refusal a non-admin gets, the amount rule."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n.lazy_proxy import LazyProxy

from handlers.texts.start import help_text

Fmt = Callable[[int], str]


def menu() -> str:
    return _("🛠 <b>Admin panel</b>\nChoose a section.")


def refusal() -> str:
    """The one answer to an admin command from anyone else: what it is not, then what the bot does."""
    return "\n\n".join([_("This command is for the bot's administrators."), help_text()])


def amount_rule(maximum: int, fmt: Fmt) -> str:
    """The line under every usage that takes an amount: what an amount may be."""
    return _("An amount is a plain number above 0 and at most {max}, e.g. 5.50.").format(max=fmt(maximum))


def with_amount_rule(usage: str, maximum: int, fmt: Fmt) -> str:
    """A usage text, then the amount rule."""
    return f"{usage}\n{amount_rule(maximum, fmt)}"


def label(labels: dict[str, LazyProxy], value: str) -> str:
    """A stored value's translated label from ``labels``; one it does not know reads "other", never raw."""
    found = labels.get(value)
    return str(found) if found is not None else _("other")


def none() -> str:
    """An empty list or section."""
    return _("none")
