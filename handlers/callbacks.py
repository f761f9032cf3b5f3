"""Every CallbackData factory, short prefixes, one module. Packed data must fit Telegram's 64 bytes."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class MenuCb(CallbackData, prefix="m"):
    action: str  # buy | balance | topup | orders | help | home


class CountriesCb(CallbackData, prefix="cl"):
    page: int = 0


class CountryCb(CallbackData, prefix="c"):
    country: str
    page: int = 0


class ServiceCb(CallbackData, prefix="s"):
    country: str
    service: str
    days: int = 0  # rental length; 0 for a one-off activation


class ConfirmCb(CallbackData, prefix="b"):
    country: str
    service: str
    price: int  # the price the user saw, minor units
    nonce: str  # one per confirmation screen: taps beyond the first place nothing
    days: int = 0
    nr: bool = False  # the screen said the number is not refundable, and the user confirmed that


class OrderCb(CallbackData, prefix="o"):
    action: str  # show | refresh | cancel | done | another
    order_id: int


class RenewCb(CallbackData, prefix="rn"):
    order_id: int
    days: int
    nonce: str = ""  # empty: show the price; set: charge and renew, once per nonce
    price: int = 0  # the price shown on the confirmation, minor units: never charged more


class TopupCb(CallbackData, prefix="tp"):
    stars: int  # the package to send an invoice for


class AdminCb(CallbackData, prefix="ap"):
    action: str  # menu | stats | users | upstreams | prices


class AdminUserCb(CallbackData, prefix="au"):
    action: str  # show | credit | debit | ban | unban
    user_id: int


class AdminUpstreamCb(CallbackData, prefix="aup"):
    name: str
    enable: bool


class BcAudienceCb(CallbackData, prefix="bca"):
    kind: str  # all | active | balance | buyers
    days: int = 0  # for active: seen in the last N days


class BcConfirmCb(CallbackData, prefix="bcc"):
    action: str  # go | no


class BcCancelCb(CallbackData, prefix="bcx"):
    broadcast_id: int
