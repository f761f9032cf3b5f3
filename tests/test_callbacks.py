"""Callback data must fit Telegram's 64 bytes in the worst case the catalog can produce."""

from __future__ import annotations

import pytest

from handlers.callbacks import (
    ConfirmCb,
    CountriesCb,
    CountryCb,
    FavouriteCb,
    MenuCb,
    OrderCb,
    OrdersPageCb,
    QuantityCb,
    RenewCb,
    ServiceCb,
    ServiceCountriesCb,
    SmsReplyCb,
)
from providers.normalize import country_code, service_slug

LONG_SERVICE = service_slug("A very long upstream service name that nobody mapped yet, with extras")
LONG_COUNTRY = country_code("Some Unmapped Country Name Far Too Long")


def test_worst_case_callbacks_fit_64_bytes() -> None:
    packed = [
        MenuCb(action="balance").pack(),
        CountriesCb(page=999).pack(),
        CountryCb(country=LONG_COUNTRY, page=99).pack(),
        ServiceCb(country=LONG_COUNTRY, service=LONG_SERVICE, days=30).pack(),
        ConfirmCb(
            country="US", service=LONG_SERVICE, price=99_999_999, nonce="AbCdEfGh", days=30, nr=True, qty=5
        ).pack(),
        QuantityCb(country=LONG_COUNTRY, service=LONG_SERVICE, qty=5, days=30).pack(),
        FavouriteCb(country=LONG_COUNTRY, service=LONG_SERVICE, on=True, days=30).pack(),
        ServiceCountriesCb(service=LONG_SERVICE, page=999).pack(),
        OrdersPageCb(page=99_999, open=True).pack(),
        SmsReplyCb(order_id=2**40).pack(),
        MenuCb(action="paysupport").pack(),
        OrderCb(action="another", order_id=2**40).pack(),
        RenewCb(order_id=2**40, days=30, nonce="AbCdEfGh").pack(),
    ]
    for data in packed:
        assert len(data.encode()) <= 64, data


def test_slugs_never_carry_the_separator() -> None:
    assert ":" not in service_slug("odd:name") and ":" not in country_code("odd:place")


def test_data_the_bot_never_sends_does_not_unpack() -> None:
    """Forged data (ids past SQLite's integers, markup in a key) fails the filter and gets the
    outdated-button answer, instead of reaching a query or a screen."""
    for cls, data in (
        (OrderCb, "o:show:9223372036854775808"),
        (RenewCb, "rn:9223372036854775808:7::0"),
        (CountryCb, "c:<b:0"),
        (ServiceCb, "s:US:what<i>:0"),
        (CountriesCb, "cl:-1"),
    ):
        with pytest.raises(ValueError):
            cls.unpack(data)
    assert OrderCb.unpack("o:show:42").order_id == 42
