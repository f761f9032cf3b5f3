"""Translated labels for stored values, shared by the user's and the operator's screens: order statuses,
ledger kinds, the demo mark. A raw value never reaches a screen; an unknown one shows as "other"."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from storage.orders import OrderStatus


def order_status(status: str) -> str:
    """An order status in a list or a report: ``code_received`` reads "code received"."""
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
    return labels.get(status, _("other"))


def ledger_kind(kind: str) -> str:
    """What a ledger row is, as the user reads it in the balance history."""
    labels = {
        "purchase": _("purchase"),
        "refund": _("refund"),
        "renewal": _("renewal"),
        "topup": _("top-up"),
        "promo": _("promo code"),
        "admin_credit": _("top-up"),
        "admin_debit": _("correction"),
        "stars_refund": _("Stars refund"),
        "stars_refund_reversal": _("Stars refund reversed"),
    }
    return labels.get(kind, _("other"))


def demo() -> str:
    """The mark on every screen of a simulated order."""
    return _("DEMO")
