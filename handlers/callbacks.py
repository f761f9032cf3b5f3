"""Every CallbackData factory, short prefixes, one module. Packed data must fit Telegram's 64 bytes."""

from __future__ import annotations

from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

#: an id as SQLite stores it: data outside this is not ours, and falls to the outdated-button answer
Id = Annotated[int, Field(ge=0, lt=2**63)]
#: a small count or page number
Small = Annotated[int, Field(ge=0, le=100_000)]
#: how many numbers one confirmation places
Quantity = Annotated[int, Field(ge=1, le=5)]
#: a catalog key (ISO country code or upstream name slug): never markup, never long
Key = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


class MenuCb(CallbackData, prefix="m"):
    action: str  # buy | balance | topup | orders | help | home | language | popular | referral | paysupport | terms


class LanguageCb(CallbackData, prefix="lg"):
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]  # one of bot.languages.LANGUAGES


class CountriesCb(CallbackData, prefix="cl"):
    page: Small = 0


class CountryCb(CallbackData, prefix="c"):
    country: Key
    page: Small = 0


class ServiceCb(CallbackData, prefix="s"):
    country: Key
    service: Key
    days: Small = 0  # rental length; 0 for a one-off activation


class ConfirmCb(CallbackData, prefix="b"):
    country: Key
    service: Key
    price: Id  # the price the user saw, minor units
    nonce: str  # one per confirmation screen: taps beyond the first place nothing
    days: Small = 0
    nr: bool = False  # the screen said the number is not refundable, and the user confirmed that
    qty: Quantity = 1  # how many numbers this confirmation places, each an order of its own


class QuantityCb(CallbackData, prefix="q"):
    """Pick how many numbers the confirmation screen places: the screen again, with that quantity."""

    country: Key
    service: Key
    qty: Quantity
    days: Small = 0


class FavouriteCb(CallbackData, prefix="fv"):
    """The ☆ of a confirmation screen: save (``on``) or drop the (service, country) pair."""

    country: Key
    service: Key
    on: bool
    days: Small = 0


class ServiceCountriesCb(CallbackData, prefix="sv"):
    """Service first: the countries where a service is sold, cheapest first."""

    service: Key
    page: Small = 0


class OrdersPageCb(CallbackData, prefix="ol"):
    """A page of /orders: the whole history, or open orders only."""

    page: Small = 0
    open: bool = False


class SmsReplyCb(CallbackData, prefix="sr"):
    """Reply by SMS from a rented number that can send: asks for the text."""

    order_id: Id


class OrderCb(CallbackData, prefix="o"):
    """A button of an order card or of /orders; the order is checked against the one who taps."""

    action: str  # show | refresh | cancel | done | another
    order_id: Id


class RenewCb(CallbackData, prefix="rn"):
    order_id: Id
    days: Small
    nonce: str = ""  # empty: show the price; set: charge and renew, once per nonce
    price: Id = 0  # the price shown on the confirmation, minor units: never charged more


class TopupCb(CallbackData, prefix="tp"):
    stars: int  # the package to send an invoice for


class AdminCb(CallbackData, prefix="ap"):
    action: str  # menu | stats | users | upstreams | prices


class AdminUserCb(CallbackData, prefix="au"):
    action: str  # show | credit | debit | ban | unban
    user_id: Id


class AdminUpstreamCb(CallbackData, prefix="aup"):
    name: str
    enable: bool


class BcAudienceCb(CallbackData, prefix="bca"):
    kind: str  # all | active | balance | buyers
    days: Small = 0  # for active: seen in the last N days


class BcConfirmCb(CallbackData, prefix="bcc"):
    action: str  # go | no


class BcCancelCb(CallbackData, prefix="bcx"):
    broadcast_id: Id


class SmsSendCb(CallbackData, prefix="ss"):
    """Send (``send``) or drop the reply by SMS previewed under ``nonce``: one tap sends once."""

    order_id: Id
    nonce: Key
    send: bool
