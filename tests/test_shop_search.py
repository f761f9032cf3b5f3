"""Search by typing (bot/shop/search.py), the popular list (bot/shop/popular.py, storage/sales.py) and the
service-first quotes (bot/shop/shop.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.money.pricing import Pricing
from bot.settings import Settings
from bot.shop.popular import DEFAULT_POPULAR, Popular, ranked
from bot.shop.search import HIT, Found, known_services, normalize, search
from bot.shop.shop import Shop
from providers.catalog import Catalog
from providers.demo import DemoProvider
from storage import sales
from storage.db import Database
from storage.timestamps import iso
from tests.conftest import add_user, charged_order
from tests.order_services import order_service

SERVICES = known_services()


def hit(text: str, locale: str = "en") -> tuple[str, str] | None:
    found = search(text, locale, SERVICES)
    return (found.hit.kind, found.hit.key) if found.hit else None


@pytest.mark.parametrize(
    "text",
    [
        "whatsapp",
        "WhatsApp",
        "WHATSAPP!",
        "whats app",
        "whatsap",
        "watsapp",
        "whatsaap",
        "вотсап",
        "ватсап",
        "вацап",
        "واتساپ",
        "واتساب",
        "واتسپ",
        "zap",
    ],
)
def test_whatsapp_by_brand_alias_and_typo(text: str) -> None:
    assert hit(text, "ru") == ("service", "whatsapp")
    assert hit(text, "en") == ("service", "whatsapp")


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("телеграм", "telegram"),
        ("телеграмм", "telegram"),
        ("تلگرام", "telegram"),
        ("telegarm", "telegram"),
        ("гугл", "google"),
        ("gmail", "google"),
        ("گوگل", "google"),
        ("chatgpt", "openai"),
        ("insta", "instagram"),
        ("инстаграм", "instagram"),
        ("tg", "telegram"),
        ("вк", "vk"),
        ("tiktok", "tiktok"),
        ("тикток", "tiktok"),
    ],
)
def test_other_services_by_alias(text: str, slug: str) -> None:
    assert hit(text, "ru") == ("service", slug)


@pytest.mark.parametrize(
    ("text", "locale", "code"),
    [
        ("Germany", "en", "DE"),
        ("germny", "en", "DE"),
        ("Германия", "ru", "DE"),
        ("германия", "ru", "DE"),
        ("Германия", "en", "DE"),  # an alias: a Russian name found on an English screen too
        ("Индонезия", "ru", "ID"),
        ("индонезия", "ru", "ID"),
        ("Indonesia", "ru", "ID"),
        ("США", "ru", "US"),
        ("United States", "en", "US"),
        ("usa", "en", "US"),
        ("us", "en", "US"),
        ("Соединенные Штаты", "ru", "US"),
        ("Бразилия", "ru", "BR"),
        ("Бразилія", "uk", "BR"),
        ("Alemania", "es", "DE"),
        ("Almanya", "tr", "DE"),
        ("آلمان", "fa", "DE"),
        ("ألمانيا", "ar", "DE"),
        ("India", "en", "IN"),
        ("Франция", "ru", "FR"),
    ],
)
def test_countries_in_the_readers_language_and_english(text: str, locale: str, code: str) -> None:
    assert hit(text, locale) == ("country", code)


def test_a_cldr_name_only_in_its_own_language() -> None:
    assert hit("Франция", "ru") == ("country", "FR")  # CLDR's Russian name, no alias
    assert search("Франция", "en", SERVICES).hit is None  # not a name on an English screen


@pytest.mark.parametrize("text", ["qzxv kjhg", "xyzzy", "12345", "!!!", "", "   ", "ъъъъъъъъ"])
def test_garbage_is_no_hit(text: str) -> None:
    assert search(text, "en", SERVICES).hit is None
    assert search(text, "ru", SERVICES).hit is None


def test_no_hit_suggests_the_closest_names() -> None:
    found = search("whtspp messenger", "en", SERVICES)  # too far for a hit, close enough to be offered
    assert found.hit is None and "whatsapp" in [s.key for s in found.suggestions]
    near = search("telxgrxm", "en", SERVICES)
    assert near.hit is None
    assert near.suggestions and near.suggestions[0].key == "telegram"
    assert all(s.score < HIT for s in near.suggestions)


def test_short_text_is_compared_whole() -> None:
    assert hit("ok") == ("service", "ok")  # not TikTok, which ends in "ok"
    assert hit("in") == ("country", "IN")  # not Indonesia, Instagram or LINE


def test_an_upstreams_own_service_name_is_found() -> None:
    services = known_services({"some_chat_app"})
    found = search("some chat app", "en", services)
    assert found.hit is not None and found.hit.key == "some_chat_app"


def test_normalize_folds_scripts_and_punctuation() -> None:
    assert normalize("  WhatsApp!! ") == "whatsapp"
    assert normalize("Ёлка") == normalize("елка")
    assert normalize("واتسآپ") == normalize("واتسآپ")
    assert normalize("كيك") == normalize("کیک")  # Arabic kaf and yeh read as the Persian ones
    assert normalize("Côte d’Ivoire") == "cote d ivoire"


def test_found_is_empty_for_empty_text() -> None:
    assert search("", "en", SERVICES) == Found(None)


def test_ranked_puts_best_sellers_first_then_defaults_only_on_sale() -> None:
    on_sale = {"whatsapp", "telegram", "google", "shopee", "amazon", "other"}
    assert ranked(["shopee", "netflix", "google"], on_sale, 4) == ["shopee", "google", "whatsapp", "telegram"]
    assert ranked([], on_sale)[:3] == ["whatsapp", "telegram", "google"]  # a new shop: the default list
    assert "other" not in ranked([], on_sale)
    assert ranked([], set()) == []
    assert DEFAULT_POPULAR[0] == "whatsapp"


async def test_sales_ranking_counts_sold_orders_of_the_last_7_days(db: Database) -> None:
    await add_user(db, 7, balance=10_000)
    expires = datetime.now(UTC) + timedelta(minutes=20)
    rows = [  # oldest first, as orders are numbered
        ("whatsapp", "completed", 10),
        ("whatsapp", "completed", 8),
        ("google", "completed", 1),
        ("whatsapp", "cancelled", 0),
        ("telegram", "completed", 0),
        ("telegram", "code_received", 0),
        ("shopee", "active", 0),
    ]
    async with db.transaction() as conn:
        for n, (service, status, days_ago) in enumerate(rows):
            order = await charged_order(
                conn,
                user_id=7,
                price=10,
                request_key=f"k{n}",
                provider="demo",
                country="US",
                service=service,
                expires_at=expires,
            )
            created = iso(datetime.now(UTC) - timedelta(days=days_ago))
            await conn.execute("UPDATE orders SET status = ?, created_at = ? WHERE id = ?", (status, created, order.id))
    async with db.read() as conn:
        since = iso(datetime.now(UTC) - timedelta(days=7))
        assert await sales.ranking(conn, since) == [("telegram", 2), ("google", 1)]
    popular = Popular(db)
    assert await popular.services({"telegram", "google", "whatsapp"}) == ["telegram", "google", "whatsapp"]


async def test_service_quotes_are_cheapest_first(db: Database, settings: Settings) -> None:
    orders = order_service(db, Catalog([DemoProvider()]), Pricing(settings), timedelta(minutes=20))
    shop = Shop(orders, Popular(db))
    quotes = await shop.service_quotes("whatsapp")
    assert [q.country for q in quotes] == ["ID", "IN", "BR", "US", "DE", "GB"]
    assert quotes[0].price == 16 and quotes[-1].price == 72  # 0.12 and 0.55 USD marked up by 30%
    assert "shopee" in await shop.on_sale()
    assert (await shop.find("вотсап", "ru")).hit.key == "whatsapp"  # type: ignore[union-attr]
    assert (await shop.quote("whatsapp", "US")).price == 59  # type: ignore[union-attr]
    assert await shop.quote("whatsapp", "FR") is None
    assert (await shop.popular())[:2] == ["whatsapp", "telegram"]
