"""Nine users, one per shipped language, each with Telegram set to it, walk the whole purchase through the
real bot process: /start → buy → country → service → confirm → card → code → /orders → /balance → /help.
Each sees every screen and button in their language: no English word of the interface leaks into a
translated screen, the country is named in their language, and a right-to-left screen has no line that
turns left to right. Then a user picks another language with /language and sees it at once."""

from __future__ import annotations

import asyncio
import re
from functools import cache

from aiogram.utils.i18n import I18n
from babel.messages.pofile import read_po

from bot.app import LOCALES
from bot.languages import LANGUAGES, RIGHT_TO_LEFT
from providers.names import SERVICE_NAMES, country_name, flag
from tests import test_e2e as e2e
from tests.fakes.telegram import FakeTelegram
from tests.test_catalogs import first_strong
from tests.test_e2e import ADMIN, StartBot, tap

fake = e2e.fake  # the shared fixtures: a fake Bot API and the bot process
start_bot = e2e.start_bot

#: each user's Telegram language_code, regional where Telegram sends one
TELEGRAM_CODES = {
    "en": "en",
    "ru": "ru",
    "uk": "uk-UA",
    "fa": "fa",
    "ar": "ar",
    "id": "id",
    "es": "es",
    "pt": "pt-br",
    "tr": "tr",
}
FIRST_USER = 5000
#: the demo upstream's SMS, quoted on the card: the supplier's words, not ours
DEMO_SMS = re.compile(r"\[DEMO\][^\n]*Do not share it\.")
_WORD = re.compile(r"[A-Za-z]{4,}")
_MARKUP = re.compile(r"<[^<>]+>|&\w+;|\{[^{}]*\}|/[a-z_]+")


@cache
def i18n() -> I18n:
    return I18n(path=LOCALES, default_locale="en", domain="messages")


def t(language: str, msgid: str) -> str:
    return i18n().gettext(msgid, locale=language)


@cache
def english_words() -> frozenset[str]:
    """Every word of four letters or more in the interface's English texts (placeholders, tags and
    commands aside)."""
    with (LOCALES / "messages.pot").open("rb") as f:
        ids = [m.id for m in read_po(f) if m.id]
    texts = [text for mid in ids for text in (mid if isinstance(mid, tuple) else (mid,))]
    return frozenset(w.lower() for text in texts for w in _WORD.findall(_MARKUP.sub(" ", text)))


@cache
def kept_words(language: str) -> frozenset[str]:
    """Latin words a translation keeps on purpose: brand names (WhatsApp, Telegram Stars), "UTC"…"""
    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        strings = [m.string for m in read_po(f, locale=language) if m.id]
    texts = [text for s in strings for text in (s if isinstance(s, tuple) else (s,))]
    brands = " ".join(SERVICE_NAMES.values())
    return frozenset(w.lower() for text in [*texts, brands] for w in _WORD.findall(_MARKUP.sub(" ", text)))


def screens(fake: FakeTelegram, user_id: int) -> list[str]:
    """Every text the user was shown, screens an edit replaced included: messages and their buttons."""
    out = []
    for message in fake.shown_to(user_id):
        out.append(message.get("text", ""))
        for row in message.get("reply_markup", {}).get("inline_keyboard", []):
            out += [button["text"] for button in row]
    return out


def leaks(language: str, texts: list[str]) -> list[tuple[str, str]]:
    """(word, text) for each English interface word on a screen that the translation does not keep."""
    found = []
    for text in texts:
        for word in _WORD.findall(re.sub(r"/[a-z_]+", " ", DEMO_SMS.sub(" ", text))):
            if word.lower() in english_words() and word.lower() not in kept_words(language):
                found.append((word, text))
    return found


def left_to_right_lines(texts: list[str]) -> list[str]:
    """Lines of a right-to-left screen that hold its words but would be laid out left to right."""
    bad = []
    for text in texts:
        for line in DEMO_SMS.sub("", text).split("\n"):
            has_rtl = any(first_strong(ch) in ("R", "AL") for ch in line)
            if has_rtl and first_strong(line) == "L":
                bad.append(line)
    return bad


async def walk(fake: FakeTelegram, user_id: int, language: str) -> None:
    """The whole purchase, by the labels the user reads in their language."""
    code = TELEGRAM_CODES[language]
    fake.send_message(user_id, "/start", language_code=code)
    await fake.wait_for(lambda: fake.messages_to(user_id), timeout=30)
    await tap(fake, user_id, t(language, "📱 Buy a number"))
    await tap(fake, user_id, f"{flag('US')} {country_name('US', language)}")
    await tap(fake, user_id, "WhatsApp")
    card_id = await tap(fake, user_id, t(language, "✅ Confirm"))
    await fake.wait_for(lambda: any(DEMO_SMS.search(m.get("text", "")) for m in fake.messages_to(user_id)), timeout=30)
    for command in ("/orders", "/balance", "/help"):
        sent = len(fake.messages_to(user_id))
        fake.send_message(user_id, command, language_code=code)
        await fake.wait_for(lambda sent=sent: len(fake.messages_to(user_id)) > sent, timeout=30)
    assert any(m["message_id"] == card_id for m in fake.messages_to(user_id))


async def test_each_language_walks_the_purchase_in_its_own_words(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    users = {language: FIRST_USER + n for n, language in enumerate(LANGUAGES)}
    for language, user_id in users.items():
        fake.send_message(user_id, "/start", language_code=TELEGRAM_CODES[language])
    await fake.wait_for(lambda: all(fake.messages_to(u) for u in users.values()), timeout=30)
    for user_id in users.values():
        fake.send_message(ADMIN, f"/credit {user_id} 5.00 languages")
    await fake.wait_for(lambda: len([m for m in fake.messages_to(ADMIN) if "Credited" in m.get("text", "")]) == 9)
    await asyncio.gather(*(walk(fake, user_id, language) for language, user_id in users.items()))

    english = screens(fake, users["en"])
    assert any("Welcome!" in text for text in english) and any("Your balance: 4.41 USD" in t for t in english)
    for language, user_id in users.items():
        if language == "en":
            continue
        shown = screens(fake, user_id)
        assert not any("Welcome!" in text for text in shown), language
        assert not leaks(language, shown), f"{language}: English on screen: {leaks(language, shown)[:5]}"
        if language in RIGHT_TO_LEFT:
            assert not left_to_right_lines(shown), f"{language}: {left_to_right_lines(shown)[:5]}"
    russian = "\n".join(screens(fake, users["ru"]))
    assert "4,41\xa0$" in russian, "money as Russian writes it"
    assert "Соединенные Штаты" in russian  # CLDR's name, not ISO's English one
    brazilian = "\n".join(screens(fake, users["pt"]))
    assert "US$\xa04,41" in brazilian


async def test_language_picked_with_the_command_wins_at_once(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    user = FIRST_USER + 100
    fake.send_message(user, "/language", language_code="en")
    await fake.wait_for(lambda: fake.messages_to(user), timeout=30)
    await tap(fake, user, "Русский")
    russian_welcome = t("ru", "👋 <b>Welcome!</b>\n")  # the first line is enough to find it
    chosen = t("ru", "✅ The bot now speaks {language}.").format(language="Русский")
    assert e2e.last_text(fake, user).startswith(chosen) and "Welcome!" not in e2e.last_text(fake, user)
    assert t("ru", "📱 Buy a number") in str(fake.messages_to(user)[-1].get("reply_markup"))
    del russian_welcome
    fake.send_message(user, "/help", language_code="en")  # the app still says English: the pick wins
    await fake.wait_for(
        lambda: t("ru", "<b>Commands</b>").replace("<b>", "").replace("</b>", "") in e2e.last_text(fake, user)
    )
    chat_menu = fake.commands.get(f"chat:{user}:|")
    assert chat_menu and {c["description"] for c in chat_menu} >= {t("ru", "Buy a number")}


async def test_the_profile_is_set_in_every_language(fake: FakeTelegram, start_bot: StartBot) -> None:
    fake.inject_error("setMyDescription", error_code=429, description="Too Many Requests: retry after 1", retry_after=1)
    await start_bot()  # polling starts without waiting for the languages' profiles
    await fake.wait_for(lambda: len(fake.short_descriptions) == len(LANGUAGES) + 1, timeout=60)
    assert len(fake.calls_of("setMyDescription")) == len(LANGUAGES) + 2  # the 429 waited for, then once more
    for language in LANGUAGES:
        menu = fake.commands[f"default::|{language}"]
        assert {c["command"] for c in menu} >= {"buy", "balance", "orders", "language", "help"}
        assert fake.descriptions[language] and fake.short_descriptions[language]
        if language != "en":
            assert fake.descriptions[language] != fake.descriptions["en"], language
            assert {c["description"] for c in menu}.isdisjoint(
                {c["description"] for c in fake.commands["default::|en"]}
            )
    assert fake.descriptions[""] == fake.descriptions["en"]
