"""The keyboards are built as markup directly; what they send equals what aiogram's InlineKeyboardBuilder made.

``tests/keyboards.json`` holds the markups the builder-based keyboards produced for the inputs of
:data:`CASES` (recorded before the rewrite); every case must still produce exactly that.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import product
from pathlib import Path

import pytest
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from bot.app import LOCALES
from bot.money.pricing import Quote
from bot.operator.upstreams import UpstreamInfo
from bot.orders.favourites import Favourite
from handlers import keyboards
from handlers.admin import keyboards as admin
from storage.orders import Order, OrderStatus
from storage.users import User

SNAPSHOT = Path(__file__).with_name("keyboards.json")
CODES = ["US", "ID", "GB", "DE", "FR", "BR", "IN", "KZ", "UA", "PL", "NL", "ES", "IT", "TR", "VN", "PH", "TH"] * 3


def _order(status: OrderStatus, order_id: int = 4242) -> Order:
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    return Order(order_id, 7, status, "up", "u1", "+15550001", "US", "whatsapp", 120, None, None, 7, 3, expires, "")


QUOTES = [
    Quote("whatsapp", "US", 120, 5, ()),
    Quote("telegram", "US", 95, None, ()),
    Quote("google", "US", 3000, 1, (), rent_days=30),
    *(Quote(f"svc{i}", "US", 10 * i + 1, i, ()) for i in range(20)),
]
FAVOURITES = [
    Favourite("whatsapp", "US", QUOTES[0]),
    Favourite("google", "US", QUOTES[2]),
    Favourite("telegram", "ID", None),  # no longer on sale
]
INFOS = [
    UpstreamInfo("smsactivate", True, "closed", None, "1.00 USD", 100, None),
    UpstreamInfo("simsmsbox", False, "open", "down", None, None, "x"),
]
USER = User(77, "bob", "Bob", "en", 500, False, False)


def _cases() -> dict[str, Callable[[], InlineKeyboardMarkup]]:
    cases: dict[str, Callable[[], InlineKeyboardMarkup]] = {
        "main_menu": keyboards.main_menu,
        "back_to_menu": keyboards.back_to_menu,
        "balance_menu": keyboards.balance_menu,
        "topup": lambda: keyboards.topup([(50, "1.00 USD"), (100, "2.00 USD"), (250, "5.00 USD")]),
        "topup_none": lambda: keyboards.topup([]),
        "order_list": lambda: keyboards.order_list([_order(s, 10 + i) for i, s in enumerate(OrderStatus)]),
        "order_list_empty": lambda: keyboards.order_list([]),
        "renew_confirm": lambda: keyboards.renew_confirm(_order(OrderStatus.ACTIVE), 30, "n0nce", 999),
        "admin_menu": admin.menu,
        "admin_back": admin.back,
        "admin_back_refresh": lambda: admin.back("stats"),
        "admin_user": lambda: admin.user_card(USER),
        "admin_user_banned": lambda: admin.user_card(User(77, None, "Bob", "en", 0, True, True)),
        "admin_cancel_adjust": lambda: admin.cancel_adjust(77),
        "admin_upstreams": lambda: admin.upstreams(INFOS),
        "admin_upstreams_none": lambda: admin.upstreams([]),
    }
    for count, page in product((0, 1, 7, 10, 11, len(CODES)), (-1, 0, 1, 3, 99)):
        cases[f"countries_{count}_{page}"] = lambda c=count, p=page: keyboards.countries(CODES[:c], p)
    for count, page in product((1, 10, len(QUOTES)), (0, 1, 5)):
        cases[f"services_{count}_{page}"] = lambda c=count, p=page: keyboards.services("US", QUOTES[:c], p, str)
    for quote, pay, refundable in product(QUOTES[:3], (True, False), (True, False)):
        key = f"confirm_{quote.service}_{pay}_{refundable}"
        cases[key] = lambda q=quote, a=pay, r=refundable: keyboards.confirm(q, "n0nce", a, r)
    for status, another, renew, cancel in product(OrderStatus, *[(False, True)] * 3):
        cases[f"order_card_{status}_{another}_{renew}_{cancel}"] = lambda s=status, a=another, r=renew, c=cancel: (
            keyboards.order_card(_order(s), another_code=a, renew=r, cancel=c)
        )
    for status in OrderStatus:
        cases[f"order_card_{status}_can_reply"] = lambda s=status: keyboards.order_card(_order(s), can_reply=True)
    for quote, qty, favourite in product(QUOTES[:3], (2, 5), (False, True)):
        key = f"confirm_{quote.service}_qty{qty}_{favourite}"
        cases[key] = lambda q=quote, n=qty, f=favourite: keyboards.confirm(q, "n0nce", True, qty=n, favourite=f)
    cases["confirm_qty3_not_refundable"] = lambda: keyboards.confirm(QUOTES[0], "n0nce", True, False, qty=3)
    history = [_order(s, 10 + i) for i, s in enumerate(OrderStatus)]
    for page, pages, open_only in ((0, 3, False), (1, 3, False), (2, 3, True), (0, 1, True)):
        cases[f"order_list_{page}_{pages}_{open_only}"] = lambda p=page, n=pages, o=open_only: keyboards.order_list(
            history, p, n, o
        )
    cases["order_list_open_empty"] = lambda: keyboards.order_list([], 0, 1, True)
    for count in (0, 1, 7, len(CODES)):
        cases[f"buy_entry_{count}"] = lambda c=count: keyboards.buy_entry(FAVOURITES, CODES[:c], str)
    cases["buy_entry_no_favourites"] = lambda: keyboards.buy_entry([], CODES[:12], str)
    return cases


CASES = _cases()


def _render(name: str) -> object:
    i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
    with i18n.context():
        return CASES[name]().model_dump(mode="json", exclude_none=True)  # as it is sent


@pytest.mark.parametrize("name", sorted(CASES))
def test_markup_is_what_the_builder_made(name: str) -> None:
    assert _render(name) == json.loads(SNAPSHOT.read_text())[name]


def test_the_snapshot_covers_every_case() -> None:
    assert set(json.loads(SNAPSHOT.read_text())) == set(CASES)


if __name__ == "__main__":  # re-record: only to add cases, from a known-good tree
    lines = [f"{json.dumps(name)}: {json.dumps(_render(name), ensure_ascii=False)}" for name in sorted(CASES)]
    SNAPSHOT.write_text("{\n" + ",\n".join(lines) + "\n}\n")
