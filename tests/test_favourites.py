"""Favourites: saved once, dropped, capped, listed the latest first with today's price; one no longer on
sale stays listed without a price."""

from __future__ import annotations

import asyncio

import pytest

from bot.orders.favourites import Favourites
from bot.orders.placing import OrderService
from bot.orders.tracking import Tracker
from storage.db import Database
from tests.conftest import add_user

pytestmark = pytest.mark.postgres

Services = tuple[OrderService, Tracker, object]


async def test_star_saves_once_and_unstar_drops(db: Database, services: Services) -> None:
    orders = services[0]
    favourites = Favourites(db, orders)
    await add_user(db, 30)
    assert not await favourites.is_favourite(30, "whatsapp", "US")
    assert await favourites.set(30, "whatsapp", "US", True)
    assert await favourites.set(30, "whatsapp", "US", True)  # saving again changes nothing
    assert await favourites.is_favourite(30, "whatsapp", "US")
    assert [(f.service, f.country) for f in await favourites.with_prices(30)] == [("whatsapp", "US")]
    assert await favourites.set(30, "whatsapp", "US", False)
    assert not await favourites.is_favourite(30, "whatsapp", "US")
    assert await favourites.with_prices(30) == []


async def test_favourites_are_per_user(db: Database, services: Services) -> None:
    favourites = Favourites(db, services[0])
    await add_user(db, 31)
    await add_user(db, 32)
    await favourites.set(31, "telegram", "GB", True)
    assert await favourites.with_prices(32) == []
    assert not await favourites.is_favourite(32, "telegram", "GB")


async def test_listed_latest_first_with_todays_price(db: Database, services: Services) -> None:
    orders = services[0]
    favourites = Favourites(db, orders)
    await add_user(db, 33)
    for service, country in (("whatsapp", "US"), ("google", "ID"), ("tiktok", "US")):  # the demo sells no TikTok
        await favourites.set(33, service, country, True)
        await asyncio.sleep(0.005)  # taps apart: the stored time has millisecond steps, and a tie sorts by name
    found = await favourites.with_prices(33)
    assert [(f.service, f.country) for f in found] == [("tiktok", "US"), ("google", "ID"), ("whatsapp", "US")]
    assert found[0].quote is None
    whatsapp = await orders.quote("US", "whatsapp")
    assert whatsapp is not None and found[2].quote is not None
    assert found[2].quote.price == whatsapp.price == 59  # today's price, as the confirmation shows it


async def test_at_most_the_limit_and_a_full_list_refuses_more(db: Database, services: Services) -> None:
    favourites = Favourites(db, services[0], limit=2)
    await add_user(db, 34)
    assert await favourites.set(34, "whatsapp", "US", True)
    assert await favourites.set(34, "telegram", "US", True)
    assert not await favourites.set(34, "google", "US", True)  # full: nothing changed
    assert not await favourites.is_favourite(34, "google", "US")
    assert await favourites.set(34, "whatsapp", "US", True)  # already saved: fine at the limit
    assert await favourites.set(34, "whatsapp", "US", False)
    assert await favourites.set(34, "google", "US", True)  # room again
    assert len(await favourites.with_prices(34)) == 2
