"""/paysupport's service (who may write, what an admin sees, which admin message leads to which user), the
operator's terms (text, file, fallbacks) and the cutting of long HTML into Telegram-sized messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.operator.support import Support
from bot.operator.terms import MAX_FILE_BYTES, Terms
from handlers.html_chunks import split_html
from handlers.texts.limits import visible_length
from storage import payments
from storage.db import Database
from tests.conftest import add_user, charged_order

pytestmark = pytest.mark.postgres

ADMINS = (1, 2)
USER = 4242


@pytest.fixture
async def support(db: Database) -> Support:
    await add_user(db, USER, balance=300)
    return Support(db, ADMINS, per_hour=3)


async def test_a_case_shows_balance_latest_orders_and_stars_charges(db: Database, support: Support) -> None:
    async with db.transaction() as conn:
        for n in range(7):
            await charged_order(
                conn,
                user_id=USER,
                price=10 + n,
                request_key=f"k{n}",
                provider="demo",
                country="US",
                service="wa",
                expires_at=datetime.now(UTC) + timedelta(minutes=20),
            )
        await payments.insert(conn, charge_id="ch-old", user_id=USER, payload="stars:50", stars=50, amount=50)
        await payments.insert(conn, charge_id="ch-new", user_id=USER, payload="stars:100", stars=100, amount=100)
    case = await support.case(USER)
    assert case is not None
    assert case.user.balance == 300 - sum(10 + n for n in range(7))
    assert [o.price for o in case.orders] == [16, 15, 14, 13, 12]  # the newest five
    assert {c.charge_id for c in case.charges} == {"ch-old", "ch-new"}
    assert await support.case(999) is None


async def test_admin_messages_lead_back_to_the_user_only_in_admin_chats(support: Support) -> None:
    assert await support.record(USER, [(1, 10), (1, 11), (2, 7)]) == 3
    assert await support.user_for(1, 10) == USER
    assert await support.user_for(2, 7) == USER
    assert await support.user_for(2, 10) is None  # another admin's message id
    assert await support.user_for(USER, 10) is None  # not an admin's chat


async def test_at_most_three_messages_an_hour_whatever_the_number_of_admins(support: Support) -> None:
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    for n in range(3):
        assert await support.may_write(USER, start + timedelta(minutes=n))
        await support.record(USER, [(1, 100 + n), (2, 100 + n)], start + timedelta(minutes=n))
    assert not await support.may_write(USER, start + timedelta(minutes=30))
    assert await support.may_write(USER, start + timedelta(minutes=61))  # the first one is an hour old


async def test_nothing_sent_is_not_counted(support: Support) -> None:
    for _ in range(5):
        assert await support.record(USER, []) == 0
    assert await support.may_write(USER)


def test_no_admins_no_support(db: Database) -> None:
    assert not Support(db, ()).available
    assert Support(db, (5,)).available


async def test_terms_text_wins_then_the_file_then_none(tmp_path: Path) -> None:
    path = tmp_path / "terms.html"
    path.write_text("  <b>From the file</b>\n", encoding="utf-8")
    assert await Terms("<i>Text</i>", path).custom() == "<i>Text</i>"
    assert await Terms("", path).custom() == "<b>From the file</b>"
    path.write_text("<b>Edited</b>", encoding="utf-8")
    assert await Terms("", path).custom() == "<b>Edited</b>"  # read at each call
    assert await Terms("", None).custom() is None


@pytest.mark.parametrize("content", [None, b"", b"\xff\xfe bad utf-8", b"x" * (MAX_FILE_BYTES + 1)])
async def test_a_bad_terms_file_falls_back_to_the_built_in_terms(
    tmp_path: Path, content: bytes | None, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "terms.html"
    if content is not None:
        path.write_bytes(content)
    assert await Terms("", path).custom() is None
    assert "TERMS_FILE" in caplog.text


def test_short_html_is_one_message() -> None:
    assert split_html("<b>Hi</b> &amp; bye") == ["<b>Hi</b> &amp; bye"]


def test_long_html_is_cut_between_lines_and_tags_reopened() -> None:
    text = "<blockquote>" + "\n".join(f"<b>line {n}</b> " + "é" * 100 for n in range(100)) + "</blockquote>"
    chunks = split_html(text)
    assert len(chunks) == 3
    for chunk in chunks:
        assert visible_length(chunk) <= 4096
        assert chunk.startswith("<blockquote>") and chunk.endswith("</blockquote>")
        split_html(chunk)  # each is valid on its own
    assert "line 99" in chunks[-1]


def test_one_huge_line_is_cut_inside() -> None:
    chunks = split_html("<i>" + "a&lt;" * 3000 + "</i>")
    assert len(chunks) == 2 and all(visible_length(c) <= 4096 for c in chunks)
    assert sum(c.count("&lt;") for c in chunks) == 3000


@pytest.mark.parametrize("bad", ["<script>x</script>", "<b>open", "a < b", "<b><i>x</b></i>", "</b>"])
def test_what_telegram_would_refuse_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        split_html(bad)
