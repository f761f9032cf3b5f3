"""Reply by SMS from a rented number, where its upstream can send (smscartesim ``POST /messages``).

Off unless ``OUTBOUND_SMS_PRICE`` is set. Offered on an open rental (``order.rent_days``) that has
not expired, at an upstream with ``can_send_sms``. A reply goes only to a phone number that texted
this number (the newest such sender the upstream reported): never to a number the user types, since
sending to any handset would make the shop a spam and SMS-pumping gateway at the operator's cost.

One message is one segment (GSM-7 up to 160 septets, else UCS-2 up to 70 units), with no link, at
most :data:`ORDER_LIMIT` per order and :data:`DAILY_LIMIT` per user in 24 hours (refused messages
do not count). Money: the charge (ledger ``outbound_sms``, reference ``outbound_sms:<id>``) and the
``sending`` row are one transaction; then the upstream is asked once. A documented refusal refunds
(``outbound_sms_refund:<id>``); an unclear answer (timeout after sending, 5xx, unreadable) is kept
``unclear`` for the operator, neither refunded nor re-sent: a paid request is never retried blindly.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.orders.placing import OrderService
from providers.base import Provider
from providers.errors import ProviderError, UnclearResult
from storage import ledger, outbound_sms
from storage import orders as order_rows
from storage.orders import Order, OrderStatus
from storage.timestamps import stored_now

logger = logging.getLogger(__name__)

ORDER_LIMIT = 3
DAILY_LIMIT = 10
GSM7_LIMIT, UCS2_LIMIT = 160, 70
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")  # two septets each
#: anything that reads as a link: a scheme, www., t.me, or a dotted name ending in a top-level domain
LINK = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://|\bwww\.|\bt\s*\.\s*me\b|\b[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}\b)")
PHONE = re.compile(r"\+?\d{7,15}")
#: Send taps remembered, so a second tap on the same preview sends nothing
NONCES_KEPT = 10_000


class Reply(enum.StrEnum):
    READY = "ready"  # the text may be asked for / previewed
    SENT = "sent"
    REFUSED = "refused"  # the upstream refused; refunded
    UNCLEAR = "unclear"  # kept for the operator; not refunded
    OFF = "off"
    NOT_FOUND = "not_found"
    UNSUPPORTED = "unsupported"  # not a rental, or its upstream cannot send
    CLOSED = "closed"
    NO_RECIPIENT = "no_recipient"  # no phone number texted this number yet
    EMPTY = "empty"
    TOO_LONG = "too_long"
    LINK = "link"
    ORDER_LIMIT = "order_limit"
    DAILY_LIMIT = "daily_limit"
    INSUFFICIENT = "insufficient"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class ReplyResult:
    outcome: Reply
    order: Order | None = None
    recipient: str | None = None
    price: int | None = None
    limit: int | None = None  # the limit a message would exceed, or the segment's length limit
    sms_id: int | None = None


def gsm7_septets(text: str) -> int | None:
    """The GSM-7 length of ``text``; None when it needs UCS-2."""
    if not all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        return None
    return sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)


def segment_limit(text: str) -> int:
    """Characters one segment holds in the alphabet ``text`` needs."""
    return GSM7_LIMIT if gsm7_septets(text) is not None else UCS2_LIMIT


def text_problem(text: str) -> Reply | None:
    """Why ``text`` cannot go as one SMS (EMPTY, TOO_LONG, LINK); None when it can."""
    if not text.strip():
        return Reply.EMPTY
    septets = gsm7_septets(text)
    if (septets if septets is not None else len(text.encode("utf-16-le")) // 2) > segment_limit(text):
        return Reply.TOO_LONG
    return Reply.LINK if LINK.search(text) else None


def text_refusal(text: str) -> ReplyResult | None:
    """Why ``text`` cannot be sent, with the segment's limit for TOO_LONG; None when it can."""
    problem = text_problem(text)
    return ReplyResult(problem, limit=segment_limit(text)) if problem is not None else None


def phone_number(sender: str) -> str | None:
    """A sender as an international number (``+`` and 7-15 digits); None for a name like ``WhatsApp``."""
    digits = re.sub(r"[\s()\-.]", "", sender)
    return "+" + digits.lstrip("+") if PHONE.fullmatch(digits) else None


def replyable(order: Order, provider: Provider | None, price: int | None, now: datetime | None = None) -> bool:
    """Whether the order's card offers Reply by SMS."""
    return (
        price is not None
        and provider is not None
        and provider.can_send_sms
        and bool(order.rent_days)
        and order.phone is not None
        and order.status in (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED)
        and order.expires_at > (now or datetime.now(UTC))
    )


class SmsReplies:
    """The reply-by-SMS service: what a card offers, and sending one paid message."""

    def __init__(self, orders: OrderService, price: int | None) -> None:
        self.orders = orders
        self.db = orders.db
        self.catalog = orders.catalog
        self.price = price
        self._taps: OrderedDict[str, None] = OrderedDict()

    def offered(self, order: Order) -> bool:
        return replyable(order, self.catalog.providers.get(order.provider), self.price)

    async def prepare(self, order_id: int, user_id: int) -> ReplyResult:
        """Whether the user may write a reply from this order's number now, and to whom."""
        if self.price is None:
            return ReplyResult(Reply.OFF)
        async with self.db.read() as conn:
            order = await order_rows.get(conn, order_id, user_id)
            senders = await outbound_sms.senders(conn, order_id) if order else []
            sent = await outbound_sms.count_of_order(conn, order_id) if order else 0
            today = await outbound_sms.count_of_user_since(conn, user_id, _day_ago()) if order else 0
        if order is None:
            return ReplyResult(Reply.NOT_FOUND)
        provider = self.catalog.providers.get(order.provider)
        if provider is None or not provider.can_send_sms or not order.rent_days:
            return ReplyResult(Reply.UNSUPPORTED, order)
        if not self.offered(order):
            return ReplyResult(Reply.CLOSED, order)
        recipient = next((p for s in senders if (p := phone_number(s))), None)
        if recipient is None:
            return ReplyResult(Reply.NO_RECIPIENT, order)
        if sent >= ORDER_LIMIT:
            return ReplyResult(Reply.ORDER_LIMIT, order, limit=ORDER_LIMIT)
        if today >= DAILY_LIMIT:
            return ReplyResult(Reply.DAILY_LIMIT, order, limit=DAILY_LIMIT)
        return ReplyResult(Reply.READY, order, recipient, self.price)

    async def send(self, order_id: int, user_id: int, text: str, tap: str) -> ReplyResult:
        """Charge and send one SMS; ``tap`` (the preview's nonce) sends at most once."""
        refusal = text_refusal(text)
        if refusal is not None:
            return refusal
        ready = await self.prepare(order_id, user_id)
        if ready.outcome is not Reply.READY or ready.order is None or ready.recipient is None:
            return ready
        if tap in self._taps:
            return ReplyResult(Reply.DUPLICATE, ready.order)
        self._taps[tap] = None
        while len(self._taps) > NONCES_KEPT:
            self._taps.popitem(last=False)
        order, recipient, price = ready.order, ready.recipient, ready.price or 0
        try:
            async with self.db.transaction() as conn:  # limits counted again under the write lock
                if await outbound_sms.count_of_order(conn, order.id) >= ORDER_LIMIT:
                    return ReplyResult(Reply.ORDER_LIMIT, order, limit=ORDER_LIMIT)
                if await outbound_sms.count_of_user_since(conn, user_id, _day_ago()) >= DAILY_LIMIT:
                    return ReplyResult(Reply.DAILY_LIMIT, order, limit=DAILY_LIMIT)
                sms_id = await outbound_sms.add(
                    conn, order_id=order.id, user_id=user_id, recipient=recipient, text=text, price=price
                )
                await ledger.post(
                    conn, user_id=user_id, amount=-price, kind="outbound_sms", reference=f"outbound_sms:{sms_id}",
                    order_id=order.id,
                )  # fmt: skip
        except ledger.InsufficientFunds:
            return ReplyResult(Reply.INSUFFICIENT, order, recipient, price)
        return await self._deliver(order, sms_id, recipient, text, price)

    async def _deliver(self, order: Order, sms_id: int, recipient: str, text: str, price: int) -> ReplyResult:
        provider = self.catalog.get(order.provider)
        assert order.phone is not None
        try:
            async with asyncio.timeout(self.orders.limits.call_deadline):
                sent = await provider.send_sms(order.phone, recipient, text)
        except (UnclearResult, TimeoutError) as exc:
            logger.warning("outbound SMS %d (order %d): unclear, kept for the operator: %r", sms_id, order.id, exc)
            async with self.db.transaction() as conn:
                await outbound_sms.move(conn, sms_id, "unclear", error=repr(exc)[:300])
            return ReplyResult(Reply.UNCLEAR, order, recipient, price, sms_id=sms_id)
        except ProviderError as exc:
            logger.info("outbound SMS %d (order %d): refused, refunding: %s", sms_id, order.id, exc)
            async with self.db.transaction() as conn:
                if await outbound_sms.move(conn, sms_id, "refused", error=str(exc)[:300]):
                    await ledger.post(
                        conn, user_id=order.user_id, amount=price, kind="outbound_sms_refund",
                        reference=f"outbound_sms_refund:{sms_id}", order_id=order.id,
                    )  # fmt: skip
            return ReplyResult(Reply.REFUSED, order, recipient, price, sms_id=sms_id)
        except BaseException as exc:  # cancelled at shutdown, or a bug mid-send: whether it left is unknown
            logger.error("outbound SMS %d (order %d): interrupted, kept as unclear: %r", sms_id, order.id, exc)
            await asyncio.shield(self._unclear(sms_id, repr(exc)[:300]))
            raise
        async with self.db.transaction() as conn:
            await outbound_sms.move(conn, sms_id, "sent", upstream_id=sent.upstream_id)
        logger.info("outbound SMS %d (order %d) sent", sms_id, order.id)
        return ReplyResult(Reply.SENT, order, recipient, price, sms_id=sms_id)

    async def _unclear(self, sms_id: int, error: str) -> None:
        async with self.db.transaction() as conn:
            await outbound_sms.move(conn, sms_id, "unclear", error=error)

    async def settle_interrupted(self) -> int:
        """At start: messages a stopped process left ``sending`` become ``unclear`` (kept for the operator,
        never re-sent, never refunded blindly). Returns how many."""
        before = stored_now(datetime.now(UTC) - timedelta(seconds=self.orders.limits.call_deadline))
        async with self.db.transaction() as conn:
            found = await outbound_sms.interrupted(conn, before)
        if found:
            logger.warning("%d outbound SMS interrupted mid-send: kept as unclear for the operator", found)
        return found


def _day_ago() -> str:
    return stored_now(datetime.now(UTC) - timedelta(days=1))
