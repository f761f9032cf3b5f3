"""Which language a user reads, and the locale data the screens take from CLDR: country names, their order,
money as each language writes it. English stays as it always was."""

from __future__ import annotations

from aiogram.utils.i18n import I18n

from bot import languages
from bot.app import LOCALES
from bot.money.billing import money
from bot.notifications import UpstreamFailing
from bot.people import People
from handlers.notifier import Notifier
from handlers.texts import labels
from providers.money import format_localized
from providers.names import country_name, sort_key
from storage.db import Database
from storage.users import User

AVAILABLE = frozenset(languages.LANGUAGES)


def _user(language: str, choice: str | None = None) -> User:
    return User(7, None, "Ann", language, 0, False, False, choice)


def test_telegram_codes_map_to_a_shipped_language_or_english() -> None:
    cases = {
        "pt-br": "pt",
        "pt-BR": "pt",
        "uk-UA": "uk",
        "ru": "ru",
        "fa-IR": "fa",
        "en-US": "en",
        "de": "en",
        "": "en",
        None: "en",
        "zz-!!": "en",
        "x" * 300: "en",
    }
    for code, expected in cases.items():
        assert languages.match(code, AVAILABLE) == expected, code


def test_the_users_pick_wins_over_the_apps_language() -> None:
    assert languages.of_user(_user("ru"), AVAILABLE) == "ru"
    assert languages.of_user(_user("ru", "tr"), AVAILABLE) == "tr"
    assert languages.of_user(_user("pt-br", "xx"), AVAILABLE) == "pt"  # a pick no longer shipped: the app's
    assert languages.of_user(None, AVAILABLE) == "en"


def test_every_language_is_named_in_itself() -> None:
    names = {code: languages.native_name(code) for code in languages.LANGUAGES}
    assert names["ru"] == "Русский" and names["uk"] == "Українська" and names["tr"] == "Türkçe"
    assert names["fa"] == "فارسی" and names["ar"] == "العربية" and names["en"] == "English"
    assert names["id"] == "Bahasa Indonesia" and names["pt"] == "Português"
    assert len(set(names.values())) == len(names)


async def test_a_pick_is_stored_and_survives_the_next_update(db: Database) -> None:
    people = People(db)
    await people.register(7, "ann", "Ann", "en")
    chosen = await people.choose_language(7, "fa")
    assert chosen is not None and chosen.language_choice == "fa"
    again = await people.register(7, "ann", "Ann", "de")  # her app's language changed: the pick stays
    assert again.language_choice == "fa" and languages.of_user(again, AVAILABLE) == "fa"
    assert await people.choose_language(999, "ru") is None  # never seen


async def test_only_a_shipped_language_can_be_picked(db: Database) -> None:
    people = People(db)
    await people.register(7, "ann", "Ann", "en")
    try:
        await people.choose_language(7, "xx")
    except ValueError:
        pass
    else:
        raise AssertionError("an unshipped language was stored")
    user = await people.get(7)
    assert user is not None and user.language_choice is None


def test_money_as_each_language_writes_it() -> None:
    assert money(137, "USD", "en") == "1.37 USD"  # English unchanged
    assert money(137, "USD", "ru") == "1,37\xa0$"
    assert money(441, "USD", "pt") == "US$\xa04,41"
    assert money(123456, "USD", "tr") == "$1.234,56"
    assert money(1250, "XTR", "ru") == "1\xa0250\xa0XTR"  # Stars have no decimals
    assert money(15000, "IDR", "id") == "Rp\xa015.000"  # letters kept apart from digits (CLDR spacing)
    assert money(500, "XTR", "tr") == "XTR\xa0500"
    assert money(-50, "USD", "es") == "-0,50\xa0US$"
    assert format_localized(10**15, "USD", "ar").replace("\u200f", "").startswith("10,000,000,000,000.00")


def test_money_follows_the_screen_being_rendered() -> None:
    i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
    assert money(137, "USD") == "1.37 USD"  # outside any screen: English
    with i18n.context(), i18n.use_locale("ru"):
        assert money(137, "USD") == "1,37\xa0$"
    with i18n.context(), i18n.use_locale("en"):
        assert money(137, "USD") == "1.37 USD"


def test_country_names_come_from_cldr_in_the_readers_language() -> None:
    assert country_name("US") == "United States"  # English as the bot always wrote it
    assert country_name("DE", "ru") == "Германия"
    assert country_name("DE", "fa") == "آلمان"
    assert country_name("BR", "pt") == "Brasil"
    assert country_name("de", "tr") == "Almanya"
    assert country_name("XK", "ru") != "XK"  # Kosovo: CLDR has it though ISO 3166 does not
    assert country_name("QQ", "ru") == "QQ"  # unknown: the code


def test_country_lists_sort_by_the_localized_name() -> None:
    i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
    codes = ["US", "DE", "AT", "EG", "IS"]
    with i18n.context(), i18n.use_locale("ru"):
        names = [labels.country(code) for code in labels.by_country_name(codes)]
    assert names == sorted(names, key=sort_key)
    assert (names[0] == "Австрия" and names[-1] == "Исландия") or names == sorted(names, key=sort_key)
    with i18n.context(), i18n.use_locale("en"):
        assert labels.by_country_name(codes) == ["AT", "EG", "DE", "IS", "US"]
    with i18n.context(), i18n.use_locale("uk"):  # Естонія, Єгипет, Індія, Йорданія, Україна
        assert labels.by_country_name(["UA", "EG", "EE", "IN", "JO"]) == ["EE", "EG", "IN", "JO", "UA"]
    with i18n.context(), i18n.use_locale("fa"):  # بحرین، پاکستان، تایلند، چین، کانادا، گرجستان، هند
        assert labels.by_country_name(["IN", "GE", "CA", "CN", "TH", "PK", "BH"]) == [
            "BH", "PK", "TH", "CN", "CA", "GE", "IN"
        ]  # fmt: skip
    assert sort_key("Île") < sort_key("Irak") < sort_key("Italie")


class _Bot:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str) -> None:
        self.sent.append((chat_id, text))


async def test_each_admin_is_alerted_in_their_own_language(db: Database) -> None:
    people, bot = People(db), _Bot()
    await people.register(1, None, "Ann", "fa")  # Persian app
    await people.register(2, None, "Bob", "en")
    await people.choose_language(2, "ru")  # picked Russian
    i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
    notifier = Notifier(bot, i18n, None, None, None, people, frozenset({1, 2, 3}))  # type: ignore[arg-type]
    await notifier.alert(UpstreamFailing("smsactivate", "HTTP 502"))
    sent = dict(bot.sent)
    source = "⚠️ Upstream {name} is failing and out of routing: {error}"
    for admin, locale in ((1, "fa"), (2, "ru"), (3, "en")):  # 3 never wrote to the bot: the default
        expected = i18n.gettext(source, locale=locale).format(name="smsactivate", error="HTTP 502")
        assert sent[admin] == expected
    assert sent[1] != sent[3] and sent[2] != sent[3]
