"""Which items of SimSmsBox's ``GET /api/sms/orders/messages`` belong to one order, as :class:`Sms`.

The list holds every order's messages, newest first; the document shows no item shape, so each field
is read under several names (see :mod:`providers.simsmsbox.client`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from providers.base import Sms, Status, UpstreamState
from providers.parsing import first, parse_time, scalar
from providers.simsmsbox.parse import OrderView, order_status

MESSAGE_ORDER_KEYS = ("orderId", "order_id")
MESSAGE_ORDER_NO_KEYS = ("displayOrderNo", "orderNo", "order_no")
MESSAGE_PHONE_KEYS = ("phone", "number", "phoneNumber", "phone_number", "to", "receiver")
MESSAGE_TEXT_KEYS = ("content", "text", "message", "sms", "body", "smsContent")
MESSAGE_CODE_KEYS = ("code", "verifyCode", "verificationCode", "otp")
MESSAGE_TIME_KEYS = ("receivedAt", "received_at", "receiveTime", "createdAt", "created_at", "time")


def _digits(phone: str | None) -> str:
    return "".join(ch for ch in phone or "" if ch.isdigit())


def _belongs(item: Mapping[str, object], order: OrderView, received: datetime | None) -> bool:
    """A message is the order's by its order id or number when it names one, else by the phone and
    a time not before the order was created (a rented SIM may have served someone before)."""
    named = {scalar(first(item, *MESSAGE_ORDER_KEYS)), scalar(first(item, *MESSAGE_ORDER_NO_KEYS))} - {None}
    if named:
        return bool(named & ({order.order_id, order.display_no} - {None}))
    phone = _digits(scalar(first(item, *MESSAGE_PHONE_KEYS)))
    if not phone or phone != _digits(order.phone):
        return False
    return received is None or order.created_at is None or received >= order.created_at


def order_messages(items: list[object], order: OrderView) -> list[Sms]:
    """This order's messages in ``/orders/messages`` items, oldest first (the list is newest first)."""
    found: list[Sms] = []
    for item in (i for i in items if isinstance(i, dict)):
        received = parse_time(first(item, *MESSAGE_TIME_KEYS))
        text = first(item, *MESSAGE_TEXT_KEYS)
        if not isinstance(text, str) or not text.strip() or not _belongs(item, order, received):
            continue
        sender = scalar(first(item, "from", "sender", "fromNumber", "source"))
        found.append(Sms(text=text, code=scalar(first(item, *MESSAGE_CODE_KEYS)), sender=sender, received_at=received))
    found.reverse()
    if all(sms.received_at is not None for sms in found):
        found.sort(key=lambda sms: sms.received_at or datetime.min.replace(tzinfo=UTC))
    return found


def arrived(order: OrderView) -> bool:
    """Something came for the order (a ``latestCode``, or a received / finished status): its messages
    are worth reading. Before that its Status needs no second call."""
    return order.latest_code is not None or order.state in (UpstreamState.RECEIVED, UpstreamState.FINISHED)


def status(order: OrderView, items: list[object] | None) -> Status:
    """The order's Status from the messages list ``items`` (None: it could not be read; unused until
    something :func:`arrived`), the same whether one order or every order was read."""
    if not arrived(order):
        return order_status(order, [])
    return order_status(order, None if items is None else order_messages(items, order))
