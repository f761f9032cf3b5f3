"""Fuzzing the real dispatcher in-process (issue #9): an in-memory Bot API, a generator of random updates of
every type, and a runner that feeds them and checks the books at the end.

- :class:`MemoryTelegram` is an aiogram session in the style of aiogram's own ``MockedSession``: no network,
  every method answered at once with a well-formed result. Like Telegram (and :mod:`tests.fakes.telegram`) it
  checks what the bot sends: HTML parse mode, text and caption lengths, callback data of at most 64 bytes, a
  callback or pre-checkout query answered once, edits of messages that exist and are the bot's, copies of
  messages that exist, sends only to chats that started the bot and did not block it, refunds of known
  charges. Its refusals are the Bot API's own errors, which the bot is expected to handle.
- :class:`UpdateGenerator` makes seeded random updates: texts (unicode, very long), commands with random
  arguments, callback queries with random data and with valid data of every ``CallbackData`` class holding
  random values, taps on the buttons the bot really sent, media, edited messages, member updates (block and
  unblock), group / supergroup / channel chats and anonymous admins, payments with right and wrong payloads and
  replayed charge ids, and every other update type aiogram knows.
- :func:`fuzz_bot` wires the real :func:`bot.app.build_dispatcher` (routers, middlewares, services, an SQLite
  file, the demo provider with a 0 s SMS delay) to that session; :func:`run_fuzz` feeds the updates with
  ``Dispatcher.feed_update``, runs the scheduled jobs now and then, and returns a :class:`FuzzReport`.

Every failure is kept with the update that caused it and the ones before it, as JSON, to replay it.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import logging
import random
import time
import traceback
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.filters.callback_data import CallbackData
from aiogram.methods import TelegramMethod
from aiogram.types import Message, MessageId, Update
from aiogram.utils.i18n import I18n

from bot import languages
from bot.app import LOCALES, build_dispatcher, build_providers
from bot.settings import Settings
from handlers import callbacks
from storage.db import Database
from tests.fakes import telegram_objects as tg
from tests.fakes.telegram_objects import ApiError, bad_request

BOT_ID = 123456
BOT_USERNAME = "fuzz_sms_bot"
TOKEN = f"{BOT_ID}:FUZZ-TOKEN"
ADMIN = 1  # an operator who uses the bot
ABSENT_ADMIN = 2  # listed in ADMIN_IDS, never opened the bot: "chat not found"
USERS = (1001, 1002, 1003, 1004, 1005, 1006)
STRANGER = 7777  # never started the bot: seen only in groups and inline mode, the bot cannot write to them
GROUP, SUPERGROUP, CHANNEL = -4001, -1001234567890, -1009876543210
STAR_PACKAGES = (50, 100, 250, 500, 1000)

#: message fields Telegram refuses to copy (service messages and invoices)
NOT_COPYABLE = ("successful_payment", "refunded_payment", "invoice", "new_chat_members", "left_chat_member")


# --------------------------------------------------------------------------------------------------------------
# The Bot API, in memory
# --------------------------------------------------------------------------------------------------------------


class MemoryTelegram(BaseSession):
    """Answers every Bot API call in memory, as Telegram would; see the module docstring."""

    def __init__(self, bot_id: int = BOT_ID, username: str = BOT_USERNAME) -> None:
        super().__init__()
        self.bot_id = bot_id
        self.bot_user: dict[str, Any] = {"id": bot_id, "is_bot": True, "first_name": "Fuzz Bot", "username": username}
        self.chats: dict[int, dict[str, Any]] = {}  # chats the bot may write to -> their Chat object
        self.messages: dict[int, dict[int, dict[str, Any]]] = {}  # chat id -> message id -> Message
        self.keyboards: dict[int, dict[int, None]] = {}  # chat id -> bot messages with callback buttons, in order
        self.invoices: dict[int, list[dict[str, Any]]] = {}  # chat id -> invoices sent there
        self.open_queries: set[str] = set()
        self.open_pre_checkouts: set[str] = set()
        self.charges: dict[str, int] = {}  # telegram_payment_charge_id -> the user who paid
        self.refunded: set[str] = set()
        self.blocked: set[int] = set()
        self.calls: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()  # "method: description", for the summary
        self._sources: dict[tuple[int, int], tuple[str, Any]] = {}  # text as sent and markup: "not modified"
        self._ids: dict[int, itertools.count[int]] = {}
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getme": lambda p: {
                **self.bot_user,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            },
            "forwardmessage": self._forward_message,
            **tg.message_methods(self),
        }

    # -- the session -------------------------------------------------------------------------------------------
    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[Any],
        timeout: int | None = None,  # noqa: ASYNC109  (BaseSession's signature)
    ) -> Any:
        await asyncio.sleep(0)  # a request is a suspension point, as over the network
        name = method.__api_method__
        self.calls[name] += 1
        params: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files={}, _dumps_json=False)
            if prepared is not None:
                params[key] = prepared
        try:
            result = self._call(name, method, params)
        except ApiError as exc:
            self.refusals[f"{name}: {exc.description}"] += 1
            body: dict[str, Any] = exc.body()
            status = exc.error_code
        else:
            body, status = {"ok": True, "result": result}, 200
        return self.check_response(bot=bot, method=method, status_code=status, content=json.dumps(body)).result

    async def close(self) -> None:
        return None

    async def stream_content(
        self,
        url: str,
        headers: Any = None,
        timeout: int = 30,  # noqa: ASYNC109  (BaseSession's signature)
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncIterator[bytes]:
        yield b""

    def _call(self, name: str, method: TelegramMethod[Any], params: dict[str, Any]) -> Any:
        handler = self._methods.get(name.lower())
        if handler is not None:
            return handler(params)
        returning = method.__returning__
        if returning is bool:
            return True  # setMyCommands, deleteMyCommands, setChatMenuButton, ...
        if returning is Message:
            return self._send_other(params)  # sendPhoto, sendDocument, ...
        if returning is MessageId:
            return {"message_id": self._send_other(params)["message_id"]}
        raise AssertionError(f"the in-memory Bot API has no answer for {name} (returns {returning})")

    # -- what the fuzzer tells it ------------------------------------------------------------------------------
    def start_chat(self, chat: dict[str, Any]) -> None:
        """The bot may write to this chat from now on (a user who pressed Start, a group it is in)."""
        self.chats[chat["id"]] = chat

    def next_message_id(self, chat_id: int) -> int:
        return next(self._ids.setdefault(chat_id, itertools.count(1)))

    def observe(self, update: dict[str, Any]) -> None:
        """An update is delivered: a user who blocks or unblocks the bot in their private chat does it now."""
        member = update.get("my_chat_member")
        if member is not None and member["chat"]["type"] == "private":
            if member["new_chat_member"]["status"] == "kicked":
                self.blocked.add(member["chat"]["id"])
            else:
                self.blocked.discard(member["chat"]["id"])

    def store(self, message: dict[str, Any]) -> None:
        """A message a user sent: the bot may copy it, not edit it."""
        self._keep(message["chat"]["id"], message)

    def _keep(self, chat_id: int, message: dict[str, Any]) -> None:
        chat = self.messages.setdefault(chat_id, {})
        chat[message["message_id"]] = message
        if len(chat) > 3000:  # a long run: the oldest are gone, as if deleted
            oldest = next(iter(chat))
            del chat[oldest]
            self.keyboards.get(chat_id, {}).pop(oldest, None)
            self._sources.pop((chat_id, oldest), None)

    # -- methods -----------------------------------------------------------------------------------------------
    def _send_message(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target(p)
        text = tg.checked_text(p, "text", limit=4096)
        return self._store_bot(chat_id, {"text": text}, p.get("text", ""), p.get("reply_markup"))

    def _send_other(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target(p)
        content: dict[str, Any] = {"document": {"file_id": "BQACAgIAAxk-fuzz", "file_unique_id": "AgADfuzz"}}
        if caption := tg.checked_text(p, "caption", limit=1024, required=False):
            content["caption"] = caption
        return self._store_bot(chat_id, content, p.get("caption", ""), p.get("reply_markup"))

    def _send_invoice(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target(p)
        prices = p.get("prices") or []
        title, description, payload = p.get("title", ""), p.get("description", ""), p.get("payload", "")
        currency = p.get("currency", "")
        if not 1 <= len(title) <= 32 or not 1 <= len(description) <= 255 or not 1 <= len(payload.encode()) <= 128:
            raise bad_request("INVOICE_INVALID")
        if not prices or (currency == "XTR" and (len(prices) != 1 or p.get("provider_token"))):
            raise bad_request("INVOICE_INVALID")
        total = sum(price["amount"] for price in prices)
        invoice = {
            "title": title,
            "description": description,
            "start_parameter": "",
            "currency": currency,
            "total_amount": total,
        }
        self.invoices.setdefault(chat_id, []).append({"payload": payload, "currency": currency, "total_amount": total})
        return self._store_bot(chat_id, {"invoice": invoice}, "", p.get("reply_markup"))

    def _copy_message(self, p: dict[str, Any]) -> dict[str, int]:
        chat_id = self._target(p)
        source = self.messages.get(p.get("from_chat_id", 0), {}).get(p.get("message_id", 0))
        if source is None:
            raise bad_request("message to copy not found")
        if any(key in source for key in NOT_COPYABLE):
            raise bad_request("message can't be copied")
        content = {key: copy.deepcopy(source[key]) for key in tg.CONTENT_FIELDS if key in source}
        content.update({key: copy.deepcopy(source[key]) for key in _MEDIA if key in source})
        if "caption" in p:
            content["caption"] = tg.checked_text(p, "caption", limit=1024, required=False)
        sent = self._store_bot(chat_id, content, content.get("text", ""), p.get("reply_markup"))
        return {"message_id": sent["message_id"]}

    def _forward_message(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target(p)
        source = self.messages.get(p.get("from_chat_id", 0), {}).get(p.get("message_id", 0))
        if source is None:
            raise bad_request("message to forward not found")
        content = {key: copy.deepcopy(source[key]) for key in tg.CONTENT_FIELDS if key in source}
        return self._store_bot(chat_id, content, content.get("text", ""), None)

    def _edit(self, p: dict[str, Any], field_name: str | None) -> dict[str, Any] | bool:
        if "inline_message_id" in p:
            return True
        chat_id = self._target(p)
        message_id = p.get("message_id")
        msg = self.messages.get(chat_id, {}).get(message_id)  # type: ignore[arg-type]
        if msg is None:
            raise bad_request("message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_id:
            raise bad_request("message can't be edited")
        new = {k: v for k, v in msg.items() if k not in ("reply_markup", "edit_date")}
        source = self._sources.get((chat_id, message_id), ("", None))[0]  # type: ignore[arg-type]
        if field_name is not None:
            source = tg.edit_field(msg, new, p, field_name, media=(*_MEDIA, "photo"))
        markup = self._markup(p.get("reply_markup"))
        if markup is not None:
            new["reply_markup"] = markup
        if (source, markup) == self._sources.get((chat_id, message_id)):  # type: ignore[comparison-overlap]
            raise bad_request(tg.NOT_MODIFIED)
        new["edit_date"] = new["date"] + 1
        self.messages[chat_id][message_id] = new  # type: ignore[index]
        self._sources[(chat_id, message_id)] = (source, markup)  # type: ignore[index]
        self._track_keyboard(chat_id, message_id, markup)  # type: ignore[arg-type]
        return new

    def _delete_message(self, p: dict[str, Any]) -> bool:
        chat_id = self._target(p)
        if self.messages.get(chat_id, {}).pop(p.get("message_id", 0), None) is None:
            raise bad_request("message to delete not found")
        self.keyboards.get(chat_id, {}).pop(p.get("message_id", 0), None)
        return True

    def _answer_callback_query(self, p: dict[str, Any]) -> bool:
        query_id = tg.open_query(p, "callback_query_id", self.open_queries, tg.QUERY_INVALID)
        if tg.utf16_len(p.get("text") or "") > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self.open_queries.discard(query_id)
        return True

    def _answer_pre_checkout_query(self, p: dict[str, Any]) -> bool:
        query_id = tg.open_query(p, "pre_checkout_query_id", self.open_pre_checkouts, "QUERY_ID_INVALID")
        if not p.get("ok") and not p.get("error_message"):
            raise bad_request("ERROR_MESSAGE_EMPTY")
        self.open_pre_checkouts.discard(query_id)
        return True

    def _refund_star_payment(self, p: dict[str, Any]) -> bool:
        charge = p.get("telegram_payment_charge_id", "")
        if self.charges.get(charge) != p.get("user_id"):
            raise bad_request("CHARGE_NOT_FOUND")
        if charge in self.refunded:
            raise bad_request("CHARGE_ALREADY_REFUNDED")
        self.refunded.add(charge)
        return True

    # -- helpers -----------------------------------------------------------------------------------------------
    def _target(self, p: dict[str, Any]) -> int:
        chat_id = p.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        if not isinstance(chat_id, int) or chat_id not in self.chats:
            if isinstance(chat_id, int) and chat_id > 0 and chat_id != ABSENT_ADMIN:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise bad_request("chat not found")
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    @staticmethod
    def _markup(markup: Any) -> dict[str, Any] | None:
        checked = tg.check_inline_markup(markup)
        for row in (checked or {}).get("inline_keyboard", []):
            for button in row:
                url = button.get("url")
                if url is not None and not _plausible_url(url):
                    raise bad_request("BUTTON_URL_INVALID")
        return checked

    def _store_bot(self, chat_id: int, content: dict[str, Any], source: str, markup: Any) -> dict[str, Any]:
        checked = self._markup(markup)
        message_id = self.next_message_id(chat_id)
        msg = {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": self.chats[chat_id],
            "date": int(time.time()),
            **content,
        }
        if checked is not None:
            msg["reply_markup"] = checked
        self._keep(chat_id, msg)
        self._sources[(chat_id, message_id)] = (source, checked)
        self._track_keyboard(chat_id, message_id, checked)
        return msg

    def _track_keyboard(self, chat_id: int, message_id: int, markup: dict[str, Any] | None) -> None:
        taps = self.keyboards.setdefault(chat_id, {})
        taps.pop(message_id, None)
        if any(b.get("callback_data") for row in (markup or {}).get("inline_keyboard", []) for b in row):
            taps[message_id] = None  # the newest last
            if len(taps) > 30:
                taps.pop(next(iter(taps)))


_MEDIA = ("sticker", "document", "location", "contact", "voice", "video", "animation", "audio", "dice", "venue")


def _plausible_url(url: str) -> bool:
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    return bool(sep) and scheme in ("http", "https", "tg") and bool(host) and not any(c.isspace() for c in url)


# --------------------------------------------------------------------------------------------------------------
# Random updates
# --------------------------------------------------------------------------------------------------------------

ALPHABETS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙ",
    "αβγδεζηθικλμνξοπρστυφχψω",
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "אבגדהוזחטיכלמנסעפצקרשת",
    "的一是不了人我在有他这为之大来以个中上们",
    "あいうえおかきくけこアイウエオ",
    "0123456789",
    "０１２３４５６７８９٠١٢٣٤٥٦٧٨٩۰۱۲",
    "<>&\"'/@#:|;$%*()[]{}\\`~^",
    "\t\n\r\x01\x07\x1b\x7f",
    "\u200b\u200c\u200d\u2060\ufeff\u202e\u202d\u200f\u00ad",
    "\u0301\u0308\u0336\u20dd",
)
EMOJI = ("😀", "👍🏽", "👨‍👩‍👧‍👦", "🇺🇸", "❤️", "🔥", "⭐", "🧪", "💰", "🏳️‍🌈", "🫠")
HTMLISH = (
    "<b>",
    "</b>",
    "<code>",
    "</i>",
    "<a href='x'>",
    "&amp;",
    "&lt;",
    "&",
    "<",
    ">",
    "<br>",
    "&#0;",
    "<tg-spoiler>",
)
WORDS = (
    "buy",
    "number",
    "whatsapp",
    "code",
    "hello",
    "help",
    "cancel",
    "refund",
    "price",
    "US",
    "balance",
    "stars",
    "promo",
    "SPRING25",
    "/start",
    "@fuzz_sms_bot",
    "@other_bot",
    "https://t.me/x",
    "0.50",
    "NaN",
    "null",
    "None",
    "DROP TABLE users;",
    "' OR 1=1 --",
    "%s",
    "{0}",
    "{amount}",
    "${x}",
    "\\n",
)
AMOUNTS = (
    "0",
    "1",
    "5",
    "10",
    "50",
    "100",
    "5.50",
    "0.01",
    "0.001",
    "-1",
    "-5.5",
    "1e3",
    "1E3",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1_000",
    "１０",
    "٣",
    "99999999999999999999999999",
    "9223372036854775807",
    "9223372036854775808",
    "1e308",
    "1e309",
    "5,50",
    "+5",
    "-0",
    "0x10",
    ".5",
    "5.",
    "abc",
    "½",
    "Ⅻ",
    "5.5.5",
    "00005",
    "1000000",
    "999999.99",
    "1000000.01",
    "10000000",
    "0.00",
    "1e-2",
    "²",
)
INTS = (
    0,
    1,
    -1,
    2,
    7,
    30,
    50,
    100,
    250,
    500,
    1000,
    10**6,
    2**31 - 1,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    10**30,
    -(10**30),
)
LANGUAGES = ("en", "en", "ru", "pt-br", "de", "", None, "zz", "x-klingon", "EN", "en_US", "zh-hans", "123", "ü", "-")
COMMANDS = (
    "start",
    "buy",
    "balance",
    "topup",
    "orders",
    "help",
    "promo",
    "credit",
    "debit",
    "user",
    "price",
    "markup",
    "promo_new",
    "promo_list",
    "audit",
    "refund_stars",
    "broadcast",
    "admin",
    "cancel",
    "skip",
)
UNKNOWN_COMMANDS = ("foo", "settings", "stop", "BUY", "Start", "buy_now", "ñ", "a" * 32, "123", "_")
FIELD_STRINGS: dict[str, tuple[str, ...]] = {
    "action": (
        "show",
        "refresh",
        "cancel",
        "done",
        "another",
        "buy",
        "balance",
        "topup",
        "orders",
        "help",
        "home",
        "menu",
        "stats",
        "users",
        "upstreams",
        "prices",
        "credit",
        "debit",
        "ban",
        "unban",
        "go",
        "no",
        "x",
    ),
    "country": ("US", "GB", "DE", "ID", "BR", "IN", "us", "ZZ", "XK", "USA", "", "🇺🇸"),
    "service": ("whatsapp", "telegram", "google", "shopee", "amazon", "instagram", "nope", "", "wa"),
    "kind": ("all", "active", "balance", "buyers", "everyone", ""),
    "name": ("demo", "smsx", "nope", "", "DEMO"),
    "nonce": ("", "aaaaaaaa", "nonce1", "n"),
}
CB_CLASSES: tuple[type[CallbackData], ...] = tuple(
    value
    for value in vars(callbacks).values()
    if isinstance(value, type) and issubclass(value, CallbackData) and value is not CallbackData
)


@dataclass
class Persona:
    id: int
    first_name: str
    username: str | None
    language_code: str | None  # None: the field is absent; "": present and empty
    admin: bool = False

    def user(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            obj["username"] = self.username
        if self.language_code is not None:
            obj["language_code"] = self.language_code
        return obj

    def chat(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.username:
            obj["username"] = self.username
        return obj


@dataclass
class Pools:
    """What exists in the database, so that random values often hit real rows (someone else's, too)."""

    orders: list[tuple[int, int]] = field(default_factory=list)  # (order id, user id)
    promo_codes: list[str] = field(default_factory=list)
    broadcasts: list[int] = field(default_factory=list)
    usernames: list[str] = field(default_factory=list)


@dataclass
class Step:
    """Updates fed one after another, or all at once (``together``: a double tap, a burst)."""

    kind: str
    updates: list[dict[str, Any]]
    together: bool = False


class UpdateGenerator:
    """Seeded random updates; taps and payments follow what the bot really sent (see :class:`MemoryTelegram`)."""

    KINDS: tuple[tuple[str, int], ...] = (
        ("text", 8),
        ("command", 22),
        ("follow", 24),
        ("callback_data", 10),
        ("callback_garbage", 3),
        ("media", 6),
        ("edited", 3),
        ("member", 3),
        ("elsewhere", 5),
        ("pre_checkout", 4),
        ("payment", 4),
        ("other_update", 3),
        ("double_tap", 3),
        ("burst", 2),
        ("flow", 10),
    )

    def __init__(self, seed: int, telegram: MemoryTelegram) -> None:
        self.rng = random.Random(seed)
        self.tg = telegram
        self.pools = Pools()
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(4_382_000_000_000_000_001)
        self._kinds = [k for k, _w in self.KINDS]
        self._weights = [w for _k, w in self.KINDS]
        rng = self.rng
        self.admin = Persona(ADMIN, "Admin", "fuzz_admin", "en", admin=True)
        self.users = [self.admin] + [
            Persona(uid, self._name(), rng.choice((None, f"user{uid}", f"U_{uid}x")), rng.choice(LANGUAGES))
            for uid in USERS
        ]
        self.stranger = Persona(STRANGER, "Stranger", None, "en")
        self.groups = {
            GROUP: {"id": GROUP, "type": "group", "title": "Fuzz group"},
            SUPERGROUP: {"id": SUPERGROUP, "type": "supergroup", "title": "Fuzz supergroup", "username": "fuzzsg"},
        }
        self.channel = {"id": CHANNEL, "type": "channel", "title": "Fuzz channel"}
        for persona in self.users:
            telegram.start_chat(persona.chat())  # they pressed Start before the run
        for chat in (*self.groups.values(), self.channel):
            telegram.start_chat(chat)
        self.charges: list[tuple[str, int, dict[str, Any]]] = []  # (charge id, user id, successful_payment)
        self.payment_updates: dict[str, dict[str, Any]] = {}  # charge id -> the first update that delivered it
        self.sent: dict[int, list[int]] = {}  # chat id -> ids of messages users sent there
        self.blocked: set[int] = set()  # users who blocked the bot (the session learns it when the update is fed)
        self.plan: deque[tuple[Persona, Callable[[Persona], dict[str, Any]]]] = deque()  # a flow's next moves

    # -- steps -------------------------------------------------------------------------------------------------
    def step(self) -> Step:
        kind = self.rng.choices(self._kinds, self._weights)[0]
        if kind == "burst":  # several at once, as polling hands them to concurrent tasks
            updates = [u for _ in range(self.rng.randint(2, 5)) for u in self._single(self._plain_kind())]
            return Step(kind, updates, together=True)
        if kind == "flow" or (self.plan and self.rng.random() < 0.3):
            if not self.plan:
                self._plan_flow()
            persona, move = self.plan.popleft()
            return Step("flow", [*self._unblock(persona), move(persona)])
        return Step(kind, self._single(kind), together=kind == "double_tap")

    def _plain_kind(self) -> str:
        while (kind := self.rng.choices(self._kinds, self._weights)[0]) in ("burst", "flow"):
            pass
        return kind

    def _single(self, kind: str) -> list[dict[str, Any]]:
        persona = self._persona()
        before = [] if kind in ("member", "elsewhere", "other_update", "edited") else self._unblock(persona)
        if kind == "double_tap":
            first = self._follow(persona)
            if "callback_query" not in first:  # nothing to tap yet
                return [*before, first]
            again = {**first["callback_query"], "id": self._query_id()}  # the same button, tapped twice
            self.tg.open_queries.add(again["id"])
            return [*before, first, self._wrap("callback_query", again)]
        maker: Callable[[Persona], dict[str, Any]] = getattr(self, f"_{kind}")
        return [*before, maker(persona)]

    def _unblock(self, persona: Persona) -> list[dict[str, Any]]:
        """A user who blocked the bot and uses it again pressed Restart: Telegram says so first."""
        if persona.id not in self.blocked:
            return []
        self.blocked.discard(persona.id)
        return [self._my_chat_member(persona, "kicked", "member")]

    # -- flows: what a user sets out to do, carried on between random updates ----------------------------------
    def _plan_flow(self) -> None:
        rng = self.rng
        user = rng.choice(self.users[1:])
        admin = self.admin
        say = self._say
        tap = self._tap
        flow = rng.choice(("buy", "buy", "buy", "topup", "topup", "broadcast", "admin_user", "promo", "orders"))
        moves: list[tuple[Persona, Callable[[Persona], dict[str, Any]]]]
        if flow == "buy":
            buyer = rng.choice((user, user, admin))
            moves = [(admin, say(f"/credit {buyer.id} {rng.choice(('1', '5', '20'))}"))] if rng.random() < 0.5 else []
            if rng.random() < 0.3:  # random taps switch the demo upstream off now and then: the operator, on
                moves += [(admin, say("/admin")), (admin, tap("ap:upstreams")), (admin, tap("aup:demo:1", "ap:"))]
            moves += [(buyer, say("/buy")), (buyer, tap("c:")), (buyer, tap("s:")), (buyer, tap("b:"))]
            moves += [(buyer, tap("o:", "rn:")) for _ in range(rng.randint(0, 3))]
        elif flow == "topup":
            moves = [(user, say("/topup")), (user, tap("tp:")), (user, self._checkout_newest), (user, self._pay_newest)]
            if rng.random() < 0.3 and self.charges:
                moves.append((admin, lambda p: self._say(f"/refund_stars {self.charges[-1][0]}")(p)))
        elif flow == "broadcast":
            second = rng.choice(("/skip", f"{self._short()} | https://example.com/x", "nope", "Go | http://"))
            moves = [(admin, say("/broadcast")), (admin, self._any_message), (admin, say(second))]
            moves += [(admin, tap("bca:")), (admin, tap("bcc:")), (admin, tap("bcx:"))]
        elif flow == "admin_user":
            target = rng.choice((user.id, user.id, STRANGER, 999))
            amount = rng.choice(("5 bonus", "0.50", "-1", "abc", "1000000000", "/cancel", "5"))
            button = rng.choice(("au:credit", "au:credit", "au:debit", "au:ban", "au:unban", "au:unban", "au:"))
            moves = [(admin, say(f"/user {target}")), (admin, tap(button, "au:credit")), (admin, say(amount))]
        elif flow == "promo":
            code = f"FZ{rng.randrange(10**6)}"
            moves = [(admin, say(f"/promo_new {code} {rng.choice(('1', '0.5', '3'))} {rng.randint(1, 3)}"))]
            moves += [(rng.choice(self.users), say(f"/promo {rng.choice((code, code.lower()))}")) for _ in range(3)]
        else:
            moves = [(user, say("/orders")), (user, tap("o:")), (user, tap("o:", "rn:")), (user, tap("rn:", "o:"))]
        self.plan.extend(moves)

    def _say(self, text: str) -> Callable[[Persona], dict[str, Any]]:
        return lambda persona: self._message(persona, persona.chat(), _texted(text))

    def _tap(self, *prefixes: str) -> Callable[[Persona], dict[str, Any]]:
        """A tap on the newest button whose data starts with one of ``prefixes``; else any of the bot's buttons."""

        def move(persona: Persona) -> dict[str, Any]:
            chat_id = persona.id
            for message_id in reversed(list(self.tg.keyboards.get(chat_id, {}))[-8:]):
                message = self.tg.messages[chat_id][message_id]
                data = [d for d in _callback_datas(message) if d.startswith(prefixes)]
                if data:
                    return self._callback(persona, self.rng.choice(data), message)
            return self._follow(persona)

        return move

    def _any_message(self, persona: Persona) -> dict[str, Any]:
        if self.rng.random() < 0.5:
            return self._message(persona, persona.chat(), {"text": self.text()})
        return self._message(persona, persona.chat(), self.media(persona))

    def _checkout_newest(self, persona: Persona) -> dict[str, Any]:
        invoices = self.tg.invoices.get(persona.id)
        return self._checkout(persona, invoices[-1]) if invoices else self._pre_checkout(persona)

    def _pay_newest(self, persona: Persona) -> dict[str, Any]:
        invoices = self.tg.invoices.get(persona.id)
        return self._pay(persona, invoices[-1]) if invoices else self._payment(persona)

    def _persona(self) -> Persona:
        persona = self.admin if self.rng.random() < 0.3 else self.rng.choice(self.users)
        if self.rng.random() < 0.05:  # people change their names and language
            persona.first_name = self._name()
            persona.language_code = self.rng.choice(LANGUAGES)
        return persona

    # -- messages ----------------------------------------------------------------------------------------------
    def _text(self, persona: Persona) -> dict[str, Any]:
        return self._message(persona, persona.chat(), {"text": self.text()})

    def _command(self, persona: Persona) -> dict[str, Any]:
        text = self.command(persona)
        if self.rng.random() < 0.08:  # a command as a photo's caption
            return self._message(persona, persona.chat(), {"photo": _photo(self.rng), **_captioned(text)})
        return self._message(persona, persona.chat(), _texted(text))

    def _media(self, persona: Persona) -> dict[str, Any]:
        return self._message(persona, persona.chat(), self.media(persona))

    def _edited(self, persona: Persona) -> dict[str, Any]:
        chat = persona.chat() if self.rng.random() < 0.8 else self.rng.choice(list(self.groups.values()))
        earlier = self.sent.get(chat["id"])
        message_id = self.rng.choice(earlier) if earlier else self.tg.next_message_id(chat["id"])
        content = _texted(self.command(persona) if self.rng.random() < 0.4 else self.text())
        msg = {
            "message_id": message_id,
            "from": persona.user(),
            "chat": chat,
            "date": int(time.time()) - 60,
            "edit_date": int(time.time()),
            **content,
        }
        return self._wrap("edited_message", msg)

    def _new_message(self, chat: dict[str, Any], sender: dict[str, Any] | None, content: dict[str, Any]) -> dict:
        """A message just sent in ``chat`` (its next id), from ``sender`` (None in a channel)."""
        msg = {"message_id": self.tg.next_message_id(chat["id"]), "chat": chat, "date": int(time.time()), **content}
        if sender is not None:
            msg["from"] = sender
        return msg

    def _message(self, persona: Persona, chat: dict[str, Any], content: dict[str, Any], **extra: Any) -> dict:
        msg = self._new_message(chat, persona.user(), {**content, **extra})
        self.tg.store(msg)
        self.sent.setdefault(chat["id"], []).append(msg["message_id"])
        return self._wrap("message", msg)

    def media(self, persona: Persona) -> dict[str, Any]:
        rng = self.rng
        n = rng.randrange(10**6)
        file = {"file_id": f"AgACAgIAAxk-fuzz-{n}", "file_unique_id": f"AQADfuzz{n}"}
        choices: list[Callable[[], dict[str, Any]]] = [
            lambda: {
                "sticker": {
                    **file,
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": rng.choice(EMOJI),
                }
            },
            lambda: {"photo": _photo(rng), **(_captioned(self.text(200)) if rng.random() < 0.5 else {})},
            lambda: {
                "document": {**file, "file_name": self.text(60), "mime_type": "application/pdf"},
                **(_captioned(self.text(1024)) if rng.random() < 0.3 else {}),
            },
            lambda: {"location": {"latitude": rng.uniform(-90, 90), "longitude": rng.uniform(-180, 180)}},
            lambda: {
                "contact": {
                    "phone_number": rng.choice(("+15551234567", "0", "+", self.text(20))),
                    "first_name": self._name(),
                    **({"user_id": persona.id} if rng.random() < 0.5 else {}),
                }
            },
            lambda: {"voice": {**file, "duration": rng.randint(0, 600)}},
            lambda: {"video": {**file, "width": 640, "height": 480, "duration": 3}},
            lambda: {"animation": {**file, "width": 320, "height": 240, "duration": 2}},
            lambda: {"audio": {**file, "duration": 180}},
            lambda: {"video_note": {**file, "length": 240, "duration": 5}},
            lambda: {"dice": {"emoji": rng.choice(("🎲", "🎯", "🏀", "⚽", "🎳", "🎰")), "value": rng.randint(1, 6)}},
            lambda: {
                "venue": {
                    "location": {"latitude": 1.0, "longitude": 2.0},
                    "title": self.text(50),
                    "address": self.text(50),
                }
            },
            lambda: {"poll": _poll(rng, self.text(100))},
            lambda: {"refunded_payment": self._refunded_payment()},
            lambda: {"write_access_allowed": {"from_request": True}},
            lambda: {"pinned_message": {"chat": persona.chat(), "message_id": 1, "date": 0}},
            lambda: {"users_shared": {"request_id": 1, "users": [{"user_id": rng.choice(USERS)}]}},
            lambda: {"web_app_data": {"data": self.text(100), "button_text": "open"}},
        ]
        return rng.choice(choices)()

    # -- callback queries --------------------------------------------------------------------------------------
    def _follow(self, persona: Persona) -> dict[str, Any]:
        """A tap on a button the bot really sent to this user: mostly on its newest keyboard, else a recent one."""
        chat_id = persona.id
        shown = list(self.tg.keyboards.get(chat_id, {}))[-8:]
        if not shown:
            return self._message(persona, persona.chat(), _texted(self.rng.choice(("/start", "/buy", "/admin"))))
        message = self.tg.messages[chat_id][shown[-1] if self.rng.random() < 0.5 else self.rng.choice(shown)]
        return self._callback(persona, self.rng.choice(_callback_datas(message)), message)

    def _callback_data(self, persona: Persona) -> dict[str, Any]:
        """Valid data of a random CallbackData class holding random values, or a real button's data tampered with."""
        data = self.tampered(persona) if self.rng.random() < 0.4 else None
        return self._callback(persona, data or self.callback_data(), self._origin(persona))

    def _callback_garbage(self, persona: Persona) -> dict[str, Any]:
        rng = self.rng
        prefix = rng.choice([*(cls.__prefix__ for cls in CB_CLASSES), "", "zz"])
        body = ":".join(self.text(12).replace(":", "") for _ in range(rng.randint(0, 6)))
        data = _clip_bytes(rng.choice((f"{prefix}:{body}", body, f"{prefix}:", ":", f"{prefix}::::::")), 64) or "x"
        return self._callback(persona, data, self._origin(persona))

    def callback_data(self) -> str:
        for _attempt in range(20):
            cls = self.rng.choice(CB_CLASSES)
            values: dict[str, Any] = {}
            for name, info in cls.model_fields.items():
                if info.annotation is bool:
                    values[name] = self.rng.random() < 0.5
                elif info.annotation is int:
                    values[name] = self.any_int()
                else:
                    values[name] = self.field_string(name)
            try:
                return cls(**values).pack()
            except ValueError:  # over 64 bytes, or a value holding the separator
                continue
        return "m:home"

    def tampered(self, persona: Persona) -> str | None:
        shown = list(self.tg.keyboards.get(persona.id, {}))
        if not shown:
            return None
        buttons = _callback_datas(self.tg.messages[persona.id][self.rng.choice(shown)])
        parts = self.rng.choice(buttons).split(":")
        if len(parts) < 2:
            return None
        index = self.rng.randrange(1, len(parts))
        parts[index] = self.rng.choice((str(self.any_int()), self.field_string("x"), "", "1", "0"))
        return _clip_bytes(":".join(parts), 64) or None

    def _origin(self, persona: Persona) -> dict[str, Any] | None:
        """The message a tap comes from: the bot's, the user's own, an inaccessible one, an unknown id, none."""
        rng = self.rng
        r = rng.random()
        chat = persona.chat()
        if r < 0.55:
            shown = list(self.tg.messages.get(persona.id, {}).values())
            mine = [m for m in shown[-20:] if m.get("from", {}).get("id") == BOT_ID]
            if mine:
                return rng.choice(mine)
        if r < 0.7:
            return {
                "message_id": rng.randint(1, 10**6),
                "from": self.tg.bot_user,
                "chat": chat,
                "date": 1,
                "text": "an old message",
            }
        if r < 0.8:
            return {"message_id": rng.randint(1, 10**6), "from": persona.user(), "chat": chat, "date": 2, "text": "hi"}
        if r < 0.9:
            return {"message_id": rng.randint(1, 10**6), "chat": chat, "date": 0}  # inaccessible
        return None  # inline mode

    def _callback(self, persona: Persona, data: str, message: dict[str, Any] | None) -> dict[str, Any]:
        query_id = self._query_id()
        self.tg.open_queries.add(query_id)
        query: dict[str, Any] = {
            "id": query_id,
            "from": persona.user(),
            "chat_instance": f"-{persona.id}42",
            "data": data,
        }
        if message is None:
            query["inline_message_id"] = f"AgAAAFuzz{self.rng.randrange(10**9)}"
        else:
            query["message"] = message
        return self._wrap("callback_query", query)

    # -- chats other than the private one ----------------------------------------------------------------------
    def _elsewhere(self, persona: Persona) -> dict[str, Any]:
        rng = self.rng
        r = rng.random()
        text = self.command(persona) if rng.random() < 0.5 else rng.choice((self.text(), f"hi @{BOT_USERNAME}"))
        if r < 0.15:
            msg = self._new_message(self.channel, None, {"sender_chat": self.channel, **_texted(text)})
            return self._wrap("channel_post" if rng.random() < 0.8 else "edited_channel_post", msg)
        group = rng.choice(list(self.groups.values()))
        if r < 0.3:  # a tap on one of the bot's messages in the group
            mine = [m for m in self.tg.messages.get(group["id"], {}).values() if m.get("from", {}).get("id") == BOT_ID]
            message = (
                rng.choice(mine)
                if mine
                else {
                    "message_id": rng.randint(1, 999),
                    "from": self.tg.bot_user,
                    "chat": group,
                    "date": 1,
                    "text": "old",
                }
            )
            return self._callback(rng.choice((persona, self.stranger)), self.callback_data(), message)
        extra: dict[str, Any] = {}
        sender = rng.choice((persona, persona, self.stranger))
        if r < 0.45:  # an anonymous group admin: sent by GroupAnonymousBot as the group itself
            msg = self._new_message(group, tg.GROUP_ANONYMOUS_BOT, {"sender_chat": group, **_texted(text)})
            self.tg.store(msg)
            return self._wrap("message", msg)
        if r < 0.55:
            mine = [m for m in self.tg.messages.get(group["id"], {}).values() if m.get("from", {}).get("id") == BOT_ID]
            if mine:
                extra["reply_to_message"] = rng.choice(mine)
        content = _texted(text) if r < 0.85 else self.media(sender)
        msg = self._new_message(group, sender.user(), {**content, **extra})
        self.tg.store(msg)
        return self._wrap("message", msg)

    # -- members -----------------------------------------------------------------------------------------------
    def _member(self, persona: Persona) -> dict[str, Any]:
        rng = self.rng
        r = rng.random()
        if r < 0.6:  # the user blocks or unblocks the bot
            if persona.id in self.blocked:
                self.blocked.discard(persona.id)
                return self._my_chat_member(persona, "kicked", "member")
            if persona.admin and rng.random() < 0.7:  # keep the operator reachable most of the time
                return self._my_chat_member(persona, "member", "member")
            self.blocked.add(persona.id)
            return self._my_chat_member(persona, "member", "kicked")
        group = rng.choice(list(self.groups.values()))
        date = int(time.time())
        if r < 0.75:  # the bot added to, promoted in or removed from a group
            old, new = rng.sample(("member", "administrator", "left", "kicked"), 2)
            update = {
                "chat": group,
                "from": persona.user(),
                "date": date,
                "old_chat_member": _member_status(old, self.tg.bot_user),
                "new_chat_member": _member_status(new, self.tg.bot_user),
            }
            return self._wrap("my_chat_member", update)
        if r < 0.9:  # someone else joins or leaves
            who = rng.choice((persona, self.stranger)).user()
            old, new = rng.sample(("member", "left", "kicked", "administrator"), 2)
            update = {
                "chat": group,
                "from": persona.user(),
                "date": date,
                "old_chat_member": _member_status(old, who),
                "new_chat_member": _member_status(new, who),
            }
            return self._wrap("chat_member", update)
        return self._wrap(
            "chat_join_request", {"chat": group, "from": persona.user(), "user_chat_id": persona.id, "date": date}
        )

    def _my_chat_member(self, persona: Persona, old: str, new: str) -> dict[str, Any]:
        update = {
            "chat": persona.chat(),
            "from": persona.user(),
            "date": int(time.time()),
            "old_chat_member": _member_status(old, self.tg.bot_user),
            "new_chat_member": _member_status(new, self.tg.bot_user),
        }
        return self._wrap("my_chat_member", update)

    # -- payments ----------------------------------------------------------------------------------------------
    def _pre_checkout(self, persona: Persona) -> dict[str, Any]:
        return self._checkout(persona, self._invoice(persona, as_sent=0.6, altered=0.4))

    def _payment(self, persona: Persona) -> dict[str, Any]:
        rng = self.rng
        if self.charges and rng.random() < 0.2:  # Telegram delivers the same payment again
            _charge, user_id, paid = rng.choice(self.charges)
            persona = next((p for p in self.users if p.id == user_id), persona)
            paid = copy.deepcopy(paid)
            if rng.random() < 0.3:
                self._mutate_paid(paid)
            return self._paid(persona, paid)
        return self._pay(persona, self._invoice(persona, as_sent=0.5, altered=0.35))

    def _invoice(self, persona: Persona, *, as_sent: float, altered: float) -> dict[str, Any]:
        """What a payment pays: with chance ``as_sent`` an invoice the bot sent ``persona``, else a Stars package;
        then, with chance ``altered``, changed in one field."""
        rng = self.rng
        invoices = self.tg.invoices.get(persona.id)
        if invoices and rng.random() < as_sent:
            invoice = dict(rng.choice(invoices))  # as the invoice the bot sent says
        else:
            stars = rng.choice(STAR_PACKAGES)
            invoice = {"payload": f"stars:{stars}", "currency": "XTR", "total_amount": stars}
        if rng.random() < altered:
            self._mutate(invoice)
        return invoice

    def _pay(self, persona: Persona, invoice: dict[str, Any]) -> dict[str, Any]:
        """A new payment (a new charge id) of ``invoice``."""
        charge = f"stxFuzz{self.rng.randrange(16**12):012x}"
        paid = {
            "currency": invoice["currency"],
            "total_amount": invoice["total_amount"],
            "invoice_payload": invoice["payload"],
            "telegram_payment_charge_id": charge,
            "provider_payment_charge_id": "",
        }
        self.charges.append((charge, persona.id, paid))
        self.tg.charges[charge] = persona.id
        return self._paid(persona, paid)

    def _paid(self, persona: Persona, paid: dict[str, Any]) -> dict[str, Any]:
        update = self._message(persona, persona.chat(), {"successful_payment": paid})
        self.payment_updates.setdefault(paid["telegram_payment_charge_id"], update)
        return update

    def _checkout(self, persona: Persona, invoice: dict[str, Any]) -> dict[str, Any]:
        query_id = self._query_id()
        self.tg.open_pre_checkouts.add(query_id)
        query = {
            "id": query_id,
            "from": persona.user(),
            "currency": invoice["currency"],
            "total_amount": invoice["total_amount"],
            "invoice_payload": invoice["payload"],
        }
        return self._wrap("pre_checkout_query", query)

    def _mutate(self, invoice: dict[str, Any]) -> None:
        rng = self.rng
        which = rng.choice(("payload", "currency", "total_amount", "all"))
        if which in ("payload", "all"):
            invoice["payload"] = rng.choice(
                (
                    "stars:51",
                    "stars:-1",
                    "stars:0",
                    "stars:abc",
                    "stars:",
                    "stars:50:50",
                    "STARS:50",
                    "x",
                    "stars:1e3",
                    "stars:" + "9" * 40,
                    "stars:٥٠",
                    self.text(128) or "y",
                    "stars:50 ",
                    " stars:50",
                )
            )
        if which in ("currency", "all"):
            invoice["currency"] = rng.choice(("USD", "xtr", "EUR", "XTR ", "RUB", "XXX"))
        if which in ("total_amount", "all"):  # Telegram never asks for or takes less than one Star
            invoice["total_amount"] = rng.choice((1, 49, 51, 999, 2**31 - 1, 10**12, invoice["total_amount"] + 1))

    def _mutate_paid(self, paid: dict[str, Any]) -> None:
        invoice = {
            "payload": paid["invoice_payload"],
            "currency": paid["currency"],
            "total_amount": paid["total_amount"],
        }
        self._mutate(invoice)
        paid.update(
            invoice_payload=invoice["payload"], currency=invoice["currency"], total_amount=invoice["total_amount"]
        )

    def _refunded_payment(self) -> dict[str, Any]:
        charge = self.rng.choice(self.charges)[0] if self.charges else "stxUnknown"
        return {
            "currency": "XTR",
            "total_amount": 50,
            "invoice_payload": "stars:50",
            "telegram_payment_charge_id": charge,
        }

    # -- every other kind of update ----------------------------------------------------------------------------
    def _other_update(self, persona: Persona) -> dict[str, Any]:
        rng = self.rng
        user, chat, date = persona.user(), persona.chat(), int(time.time())
        group = rng.choice(list(self.groups.values()))
        premium = {"source": "premium", "user": user}
        makers: list[Callable[[], tuple[str, dict[str, Any]]]] = [
            lambda: ("inline_query", {"id": self._query_id(), "from": user, "query": self.text(256), "offset": ""}),
            lambda: ("chosen_inline_result", {"result_id": "r1", "from": user, "query": self.text(64)}),
            lambda: (
                "shipping_query",
                {
                    "id": self._query_id(),
                    "from": user,
                    "invoice_payload": "stars:50",
                    "shipping_address": {
                        "country_code": "US",
                        "state": "",
                        "city": "X",
                        "street_line1": "1",
                        "street_line2": "",
                        "post_code": "1",
                    },
                },
            ),
            lambda: ("poll", _poll(rng, self.text(100))),
            lambda: ("poll_answer", {"poll_id": "p1", "user": user, "option_ids": [0], "option_persistent_ids": ["a"]}),
            lambda: (
                "message_reaction",
                {
                    "chat": chat,
                    "message_id": rng.randint(1, 99),
                    "user": user,
                    "date": date,
                    "old_reaction": [],
                    "new_reaction": [{"type": "emoji", "emoji": "👍"}],
                },
            ),
            lambda: (
                "message_reaction_count",
                {
                    "chat": group,
                    "message_id": 1,
                    "date": date,
                    "reactions": [{"type": {"type": "emoji", "emoji": "🔥"}, "total_count": 2}],
                },
            ),
            lambda: (
                "chat_boost",
                {
                    "chat": self.channel,
                    "boost": {"boost_id": "b1", "add_date": date, "expiration_date": date + 86400, "source": premium},
                },
            ),
            lambda: (
                "removed_chat_boost",
                {"chat": self.channel, "boost_id": "b1", "remove_date": date, "source": premium},
            ),
            lambda: (
                "business_connection",
                {"id": "bc1", "user": user, "user_chat_id": persona.id, "date": date, "is_enabled": rng.random() < 0.5},
            ),
            lambda: (
                "business_message",
                {
                    "message_id": rng.randint(1, 99),
                    "from": user,
                    "chat": chat,
                    "date": date,
                    "business_connection_id": "bc1",
                    **_texted(self.command(persona)),
                },
            ),
            lambda: (
                "edited_business_message",
                {
                    "message_id": 1,
                    "from": user,
                    "chat": chat,
                    "date": date,
                    "edit_date": date,
                    "business_connection_id": "bc1",
                    **_texted(self.text()),
                },
            ),
            lambda: (
                "deleted_business_messages",
                {"business_connection_id": "bc1", "chat": chat, "message_ids": [1, 2]},
            ),
            lambda: ("purchased_paid_media", {"from": user, "paid_media_payload": self.text(64)}),
        ]
        kind, obj = rng.choice(makers)()
        return self._wrap(kind, obj)

    # -- values ------------------------------------------------------------------------------------------------
    def text(self, limit: int = 4096) -> str:
        """Random text as a user could send it: never empty or blank, at most ``limit`` UTF-16 units."""
        rng = self.rng
        r = rng.random()
        if r < 0.2:
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))
        elif r < 0.45:
            alphabet = rng.choice(ALPHABETS[:8])
            text = "".join(rng.choice(alphabet + " " + "".join(EMOJI)) for _ in range(rng.randint(1, 80)))
        elif r < 0.55:
            text = "".join(rng.choice((*HTMLISH, *WORDS, " ")) for _ in range(rng.randint(1, 20)))
        elif r < 0.65:  # very long
            pieces = (rng.choice(ALPHABETS), "".join(EMOJI), "<&>")
            text = "".join(rng.choices(rng.choice(pieces), k=rng.randint(1000, 4200)))
        elif r < 0.75:
            text = rng.choice(AMOUNTS) + rng.choice(("", " ", " bonus", " " + self._short()))
        elif r < 0.85:  # what the broadcast's button step wants, right and wrong
            text = rng.choice(
                (
                    f"{self._short()} | https://example.com/{rng.randint(0, 9)}",
                    "Go | http://",
                    "x | https://a b",
                    "| https://x.y",
                    f"{'L' * 70} | https://x.y",
                    "Shop|tg://resolve",
                )
            )
        elif r < 0.93:
            text = "".join(rng.choice(rng.choice(ALPHABETS[8:])) for _ in range(rng.randint(1, 30))) + self._short()
        else:
            text = "".join(_codepoint(rng) for _ in range(rng.randint(1, 60)))
        text = _clip_utf16(text.strip(), limit).strip()
        return text or "x"

    def _short(self) -> str:
        return "".join(self.rng.choice(ALPHABETS[self.rng.randrange(3)]) for _ in range(self.rng.randint(1, 12)))

    def _name(self) -> str:
        rng = self.rng
        name = rng.choice(("Ann", "Боб", "محمد", "李", "<b>x</b>", "&amp;", "🔥🔥", "A" * 64, "\u202eevil", "O'Neil"))
        return name if rng.random() < 0.7 else _clip_utf16(self.text(64), 64)

    def any_int(self) -> int:
        rng = self.rng
        r = rng.random()
        if r < 0.35 and self.pools.orders:
            return rng.choice(self.pools.orders)[0]  # anyone's order
        if r < 0.45:
            return rng.choice((ADMIN, *USERS, STRANGER, *self.pools.broadcasts))
        if r < 0.8:
            return rng.choice(INTS)
        return rng.randint(-(10**6), 10**6)

    def field_string(self, name: str) -> str:
        rng = self.rng
        if name in FIELD_STRINGS and rng.random() < 0.75:
            return rng.choice(FIELD_STRINGS[name])
        return _clip_bytes(self.text(20).replace(":", ""), 24)

    def user_ref(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.6:
            return str(rng.choice((ADMIN, *USERS, STRANGER)))
        if r < 0.75 and self.pools.usernames:
            return "@" + rng.choice(self.pools.usernames)
        return rng.choice(("0", "-1", str(2**63 - 1), str(2**63), "1e3", "@nobody", "abc", "١٠٠١", "１００１", "@", ""))

    def command(self, persona: Persona) -> str:
        rng = self.rng
        name = rng.choice(COMMANDS) if rng.random() < 0.9 else rng.choice(UNKNOWN_COMMANDS)
        suffix = rng.choice(("", "", "", "", f"@{BOT_USERNAME}", "@other_bot", f"@{BOT_USERNAME.upper()}"))
        args = self.arguments(name)
        return _clip_utf16(f"/{name}{suffix}" + (f" {args}" if args else ""), 4096).strip()

    def arguments(self, name: str) -> str:
        """Arguments for a command: right often enough to move money, else wrong in every way."""
        rng = self.rng
        garbage = rng.random() < 0.25
        if garbage:
            return rng.choice(("", self.text(), " ".join(self.text(30) for _ in range(rng.randint(2, 6)))))
        amount = rng.choice(AMOUNTS)
        if name in ("credit", "debit"):
            if rng.random() < 0.5:  # a right one: money to buy with
                who = rng.choice((ADMIN, *USERS))
                return f"{who} {rng.choice(('5', '20', '100', '2.50', '0.99'))}" + rng.choice(("", " bonus", " 🎁"))
            parts = [self.user_ref(), amount, rng.choice(("", self.text(200)))]
            return " ".join(parts[: rng.randint(0, 3)])
        if name == "user":
            return rng.choice((self.user_ref(), self.text(100), "@" + "x" * 200))
        if name == "price":
            service = rng.choice(("whatsapp", "telegram", "google", "wa", "x" * 30, "what's", self._short()))
            country = rng.choice(("US", "GB", "IDN", "us", "ZZ", "", "USA", "🇺🇸"))
            return " ".join((service, country, rng.choice((amount, "off", "OFF", "0.99", "5"))))
        if name == "markup":
            return rng.choice(("0", "30", "35", "1000", "1001", "-5", "nan", "1e3", "35.5", "", amount))
        if name == "promo_new":
            code = rng.choice(("SPRING25", "FUZZ", "ab", "x" * 33, "ÜBER", "A-B_C", self._short(), "DROP;"))
            pieces = [code, rng.choice(("1", "2.50", amount)), rng.choice(("1", "100", "0", "-1", "1e9", "9" * 20))]
            if rng.random() < 0.5:
                pieces.append(rng.choice(("1", "30", "0", "3651", "nan")))
            return " ".join(pieces)
        if name == "promo":
            codes = [*self.pools.promo_codes, "SPRING25", "nope", "x" * 100]
            code = rng.choice(codes)
            return rng.choice((code, code.lower(), f"{code} {code}", ""))
        if name == "audit":
            return rng.choice(("", "7", "30", "0", "-1", "3650", "3651", "9" * 30, "nan", "1.5", "٣"))
        if name == "refund_stars":
            charges = [c[0] for c in self.charges] or ["stxNone"]
            return rng.choice((rng.choice(charges), rng.choice(charges), "stxUnknown", "a b", ""))
        if name == "start":
            return rng.choice(("", "ref_123", "buy", self._short(), "x" * 64))
        return rng.choice(("", "", self._short(), amount))

    # -- plumbing ----------------------------------------------------------------------------------------------
    def _query_id(self) -> str:
        return str(next(self._query_ids))

    def _wrap(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), kind: obj}


def _callback_datas(message: dict[str, Any]) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row if button.get("callback_data")]


def _texted(text: str) -> dict[str, Any]:
    content: dict[str, Any] = {"text": text}
    if entities := tg.command_entities(text):
        content["entities"] = entities
    return content


def _captioned(text: str) -> dict[str, Any]:
    text = _clip_utf16(text, 1024).strip() or "x"
    content: dict[str, Any] = {"caption": text}
    if entities := tg.command_entities(text):
        content["caption_entities"] = entities
    return content


def _photo(rng: random.Random) -> list[dict[str, Any]]:
    return tg.photo_sizes(rng.randrange(10**6))


def _poll(rng: random.Random, question: str) -> dict[str, Any]:
    return {
        "id": str(rng.randrange(10**9)),
        "question": question,
        "options": [
            {"persistent_id": "a", "text": "yes", "voter_count": 0},
            {"persistent_id": "b", "text": "no", "voter_count": 0},
        ],
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
        "allows_revoting": False,
        "members_only": False,
    }


def _member_status(status: str, user: dict[str, Any]) -> dict[str, Any]:
    if status == "administrator":
        rights = (
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
            "can_send_welcome_messages",
        )
        return {
            "status": status,
            "user": user,
            "can_be_edited": False,
            "is_anonymous": False,
            **dict.fromkeys(rights, True),
        }
    if status == "kicked":
        return {"status": status, "user": user, "until_date": 0}
    return {"status": status, "user": user}


def _codepoint(rng: random.Random) -> str:
    while True:
        cp = rng.randrange(1, 0x110000)
        if not 0xD800 <= cp <= 0xDFFF:  # no lone surrogates: Telegram sends valid UTF-8
            return chr(cp)


def _clip_utf16(text: str, limit: int) -> str:
    if tg.utf16_len(text) <= limit:
        return text
    out, used = [], 0
    for char in text:
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            break
        out.append(char)
    return "".join(out)


def _clip_bytes(text: str, limit: int) -> str:
    return text.encode()[:limit].decode(errors="ignore")


# --------------------------------------------------------------------------------------------------------------
# The bot, and the run
# --------------------------------------------------------------------------------------------------------------


def fuzz_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """The demo provider with a 0 s SMS delay; flood control and the upstream rate limit out of the way (they
    depend on the clock: with them the run would not be repeatable)."""
    values: dict[str, Any] = {
        "user_updates_per_second": 1000,
        "user_updates_burst": 10000,
        "upstream_rate_per_second": 1000,
        "order_timeout_minutes": 1,
        "star_packages": ",".join(map(str, STAR_PACKAGES)),
        **overrides,
    }
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,  # type: ignore[arg-type]
        database_path=tmp_path / "fuzz.sqlite3",
        telegram_api_url="http://127.0.0.1:9",
        admin_ids=f"{ADMIN},{ABSENT_ADMIN}",  # type: ignore[arg-type]
        demo_provider="on",
        demo_sms_delay_seconds=0,
        **values,
    )


@dataclass
class Harness:
    telegram: MemoryTelegram
    bot: Bot
    dp: Dispatcher
    db: Database
    settings: Settings


@asynccontextmanager
async def fuzz_bot(tmp_path: Path, **overrides: Any) -> AsyncIterator[Harness]:
    """The real dispatcher (routers, middlewares, services, database, demo provider) over :class:`MemoryTelegram`.
    Neither polling nor the scheduler runs: :func:`run_fuzz` calls the jobs itself."""
    settings = fuzz_settings(tmp_path, **overrides)
    db = await Database.open(settings.database_path)
    async with db.read() as conn:  # commits not synced to disk: durability has its own tests (test_durability,
        await conn.execute("PRAGMA synchronous=NORMAL")  # test_faults), and on a busy disk fsync took 3/4 of the run
    telegram = MemoryTelegram()
    bot = Bot(TOKEN, session=telegram, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    dp = await build_dispatcher(settings, bot, db, build_providers(settings))
    try:
        yield Harness(telegram, bot, dp, db, settings)
    finally:
        await dp["broadcasts"].stop()
        for root in dp.sub_routers:  # the handlers' routers are module globals, attachable once: set them free
            for router in root.sub_routers:
                router._parent_router = None
            root._parent_router = None
        await dp["catalog"].close()
        await bot.session.close()
        await db.close()


@dataclass
class Failure:
    """One unhandled exception: escaped ``feed_update``, or logged at ERROR (the error router's report)."""

    index: int  # of the step
    kind: str
    where: str  # "feed_update", a logger name, or a job
    error: str
    traceback: str
    updates: list[dict[str, Any]]  # the step's updates
    before: list[dict[str, Any]]  # the steps just before it (same users first), to replay

    def reproduction(self) -> str:
        return json.dumps({"updates": self.updates, "before": self.before}, ensure_ascii=False, indent=1)

    def signature(self) -> str:
        """Groups failures with the same cause: where, and the exception's first line."""
        return f"{self.where}: {self.error.splitlines()[0][:160] if self.error else ''}"


@dataclass
class FuzzReport:
    seed: int
    steps: int = 0
    updates: int = 0
    seconds: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)
    update_types: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    audit_issues: list[str] = field(default_factory=list)
    audit_reply: str = ""  # what the bot answered the operator's /audit at the end
    ledger_mismatches: list[tuple[int, int, int]] = field(default_factory=list)  # (user, balance, ledger sum)
    unanswered_queries: int = 0  # callback queries left spinning
    unanswered_pre_checkouts: int = 0  # Telegram cancels those after 10 s
    lost_payments: list[str] = field(default_factory=list)  # charge ids of successful_payments never stored
    lost_payment_updates: list[dict[str, Any]] = field(default_factory=list)  # the updates that brought them
    payment_states: dict[str, str | None] = field(default_factory=dict)  # charge id -> payer's FSM state then
    api_calls: Counter[str] = field(default_factory=Counter)
    api_refusals: Counter[str] = field(default_factory=Counter)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0

    def distinct(self) -> dict[str, list[Failure]]:
        groups: dict[str, list[Failure]] = {}
        for failure in self.failures:
            groups.setdefault(failure.signature(), []).append(failure)
        return groups

    def problems(self) -> list[str]:
        """Everything that is wrong, one line each; empty when the run is clean."""
        lines = [
            f"{len(group)} x {sig} (first at step {group[0].index}, {group[0].kind})"
            for sig, group in self.distinct().items()
        ]
        lines += [f"audit: {issue}" for issue in self.audit_issues]
        if not self.audit_reply.startswith(_all_clear()):  # the fuzzed admin may have picked any language
            lines.append(f"/audit did not answer ok: {self.audit_reply[:300]!r}")
        lines += [f"balance of user {u} is {b}, its ledger sums to {s}" for u, b, s in self.ledger_mismatches]
        if self.unanswered_queries:
            lines.append(f"{self.unanswered_queries} callback queries never answered (left spinning)")
        if self.unanswered_pre_checkouts:
            lines.append(f"{self.unanswered_pre_checkouts} pre-checkout queries never answered")
        if self.lost_payments:
            states = Counter(self.payment_states.get(charge) for charge in self.lost_payments)
            lines.append(
                f"{len(self.lost_payments)} successful payments never stored (the payer's state then: "
                f"{dict(states)}): {self.lost_payments[:5]}"
            )
        return lines

    def summary(self) -> str:
        head = (
            f"seed={self.seed} steps={self.steps} updates={self.updates} seconds={self.seconds:.1f} "
            f"updates/s={self.rate:.0f} errors={len(self.failures)} distinct={len(self.distinct())}"
        )
        lines = [head, "update types: " + ", ".join(f"{k}={v}" for k, v in self.update_types.most_common())]
        lines.append("steps: " + ", ".join(f"{k}={v}" for k, v in self.kinds.most_common()))
        lines.append("stats: " + ", ".join(f"{k}={v}" for k, v in self.stats.items()))
        lines.append("/audit: " + (self.audit_reply.splitlines() or ["(not run)"])[0])
        lines.append("api calls: " + ", ".join(f"{k}={v}" for k, v in self.api_calls.most_common()))
        lines.append("api refusals: " + ", ".join(f"{k}={v}" for k, v in self.api_refusals.most_common(12)))
        problems = self.problems()
        lines.append("problems: none" if not problems else "problems:\n  " + "\n  ".join(problems))
        return "\n".join(lines)

    def details(self, per_signature: int = 1) -> str:
        """Each distinct failure: its traceback and the updates that trigger it, as JSON."""
        out = []
        for sig, group in self.distinct().items():
            for failure in group[:per_signature]:
                out.append(
                    f"=== {sig}\n--- step {failure.index} ({failure.kind}), {len(group)} like it\n"
                    f"{failure.traceback}\n--- updates\n{failure.reproduction()}"
                )
        if self.lost_payment_updates:
            lost = json.dumps(self.lost_payment_updates[: per_signature * 3], ensure_ascii=False, indent=1)
            out.append(f"=== successful payments never stored\n{lost}")
        return "\n".join(out)


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def run_fuzz(
    harness: Harness,
    updates: int,
    seed: int,
    *,
    jobs_every: int = 150,
    progress: Callable[[FuzzReport], None] | None = None,
    progress_every: int = 5000,
) -> FuzzReport:
    """Feed random steps through ``Dispatcher.feed_update`` until ``updates`` updates went in; run the jobs every
    ``jobs_every`` steps and at the end; then the audit, the ledger check and the payments check. Every exception
    escaping the dispatcher or a job, and every log record at ERROR, is a :class:`Failure`."""
    dp, bot, telegram = harness.dp, harness.bot, harness.telegram
    generator = UpdateGenerator(seed, telegram)
    report = FuzzReport(seed=seed)
    errors = _ErrorRecords()
    root = logging.getLogger()
    root.addHandler(errors)
    history: deque[list[dict[str, Any]]] = deque(maxlen=12)
    started = time.perf_counter()
    next_progress = progress_every
    try:
        await _refresh_pools(harness, generator.pools)
        while report.updates < updates:
            index = report.steps
            step = generator.step()
            report.steps += 1
            report.kinds[step.kind] += 1
            report.updates += len(step.updates)
            for raw in step.updates:
                report.update_types[next(k for k in raw if k != "update_id")] += 1
            for raw in step.updates:  # where a payment lands depends on the payer's conversation state
                paid = (raw.get("message") or {}).get("successful_payment")
                if paid is not None:
                    who = raw["message"]["from"]["id"]
                    state = await dp.fsm.get_context(bot, chat_id=who, user_id=who).get_state()
                    report.payment_states.setdefault(paid["telegram_payment_charge_id"], state)
            seen = len(errors.records)
            for exc in await _feed(dp, bot, telegram, step):
                report.failures.append(_failure(index, step, "feed_update", exc, history))
            for record in errors.records[seen:]:
                report.failures.append(_logged(index, step, record, history))
            history.append(step.updates)
            if report.steps % jobs_every == 0:
                await _jobs(harness, report, index, history, errors)
                await _refresh_pools(harness, generator.pools)
            if progress is not None and report.updates >= next_progress:
                next_progress += progress_every
                report.seconds = time.perf_counter() - started
                progress(report)
        await _jobs(harness, report, report.steps, history, errors)
        report.seconds = time.perf_counter() - started
        await _audit_command(harness, generator, report)
        await _check_books(harness, generator, report)
    finally:
        root.removeHandler(errors)
    report.api_calls = telegram.calls
    report.api_refusals = telegram.refusals
    report.unanswered_queries = len(telegram.open_queries)
    report.unanswered_pre_checkouts = len(telegram.open_pre_checkouts)
    return report


async def _feed(dp: Dispatcher, bot: Bot, telegram: MemoryTelegram, step: Step) -> list[BaseException]:
    updates = []
    for raw in step.updates:
        try:
            updates.append(Update.model_validate(raw, context={"bot": bot}))
        except Exception as exc:  # the generator's fault, not the bot's: stop at once
            raise AssertionError(f"the fuzzer made an update Telegram would not send: {raw}") from exc
    if step.together:
        for raw in step.updates:
            telegram.observe(raw)
        results = await asyncio.gather(*(dp.feed_update(bot, u) for u in updates), return_exceptions=True)
        return [r for r in results if isinstance(r, BaseException)]
    escaped: list[BaseException] = []
    for raw, update in zip(step.updates, updates, strict=True):
        telegram.observe(raw)
        try:
            await dp.feed_update(bot, update)
        except Exception as exc:
            escaped.append(exc)
    return escaped


async def _jobs(harness: Harness, report: FuzzReport, index: int, history: deque, errors: _ErrorRecords) -> None:
    """What the scheduler would run meanwhile: poll (codes arrive at once), expire, payment retries, alerts."""
    dp = harness.dp
    jobs, notifier = dp["jobs"], dp["notifier"]
    seen = len(errors.records)
    step = Step("jobs", [])
    for name, job in (
        ("jobs.poll", jobs.poll),
        ("jobs.expire", jobs.expire),
        ("payments.retry", lambda: dp["payments"].retry(notifier)),
        ("upstreams.check", lambda: dp["upstreams"].check(notifier)),
    ):
        try:
            await job()
        except Exception as exc:
            report.failures.append(_failure(index, step, name, exc, history))
    for record in errors.records[seen:]:
        report.failures.append(_logged(index, step, record, history))


async def _refresh_pools(harness: Harness, pools: Pools) -> None:
    async with harness.db.read() as conn:
        pools.orders = [(r[0], r[1]) for r in await (await conn.execute("SELECT id, user_id FROM orders")).fetchall()]
        pools.promo_codes = [r[0] for r in await (await conn.execute("SELECT code FROM promo_codes")).fetchall()]
        pools.broadcasts = [r[0] for r in await (await conn.execute("SELECT id FROM broadcasts")).fetchall()]
        rows = await (await conn.execute("SELECT username FROM users WHERE username IS NOT NULL")).fetchall()
        pools.usernames = [r[0] for r in rows]


async def _audit_command(harness: Harness, generator: UpdateGenerator, report: FuzzReport) -> None:
    """The operator sends /audit, as the issue says: its answer must be the "ok" one."""
    admin = generator.admin
    step = Step("audit", [*generator._unblock(admin), generator._say("/audit 3650")(admin)])
    seen = harness.telegram.calls["sendMessage"]
    for exc in await _feed(harness.dp, harness.bot, harness.telegram, step):
        report.failures.append(_failure(report.steps, step, "feed_update", exc, deque()))
    sent = [m for m in harness.telegram.messages.get(ADMIN, {}).values() if m.get("from", {}).get("id") == BOT_ID]
    answered = harness.telegram.calls["sendMessage"] > seen and sent
    report.audit_reply = sent[-1].get("text", "") if answered else "(no answer to /audit)"


async def _check_books(harness: Harness, generator: UpdateGenerator, report: FuzzReport) -> None:
    """The audit the operator's /audit runs, every balance against its ledger, and every payment stored."""
    audit = await harness.dp["audit"].run(3650)
    report.audit_issues = [repr(issue) for issue in audit.issues]
    async with harness.db.read() as conn:
        rows = await (
            await conn.execute(
                "SELECT u.id, u.balance, COALESCE((SELECT SUM(amount) FROM ledger l WHERE l.user_id = u.id), 0) "
                "FROM users u"
            )
        ).fetchall()
        report.ledger_mismatches = [(r[0], r[1], r[2]) for r in rows if r[1] != r[2]]
        stored = {r[0] for r in await (await conn.execute("SELECT charge_id FROM payments")).fetchall()}
        statuses = await (await conn.execute("SELECT status, COUNT(*) FROM orders GROUP BY status")).fetchall()
        users = await (await conn.execute("SELECT COUNT(*), SUM(balance), SUM(is_banned) FROM users")).fetchone()
        ledger_rows = await (await conn.execute("SELECT kind, COUNT(*) FROM ledger GROUP BY kind")).fetchall()
    report.lost_payments = sorted({charge for charge, _user, _paid in generator.charges} - stored)
    report.lost_payment_updates = [generator.payment_updates[charge] for charge in report.lost_payments]
    report.stats = {
        "orders": dict(statuses),
        "users": users[0] if users else 0,
        "balances": users[1] if users else 0,
        "banned": users[2] if users else 0,
        "ledger": dict(ledger_rows),
        "payments": len(stored),
        "promo_codes": len(generator.pools.promo_codes),
        "broadcasts": len(generator.pools.broadcasts),
    }


def _failure(index: int, step: Step, where: str, exc: BaseException, history: deque) -> Failure:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return Failure(index, step.kind, where, repr(exc), text, step.updates, _context(step, history))


def _logged(index: int, step: Step, record: logging.LogRecord, history: deque) -> Failure:
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        text += "\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        error = repr(exc)
    else:
        error = record.getMessage()
    return Failure(index, step.kind, record.name, error, text, step.updates, _context(step, history))


def _context(step: Step, history: deque) -> list[dict[str, Any]]:
    """The earlier updates from the same senders (they set up the state the step met), newest last."""
    senders = {_sender(u) for u in step.updates} - {None}
    return [u for updates in history for u in updates if not senders or _sender(u) in senders][-10:]


def _sender(update: dict[str, Any]) -> int | None:
    for key, value in update.items():
        if key != "update_id" and isinstance(value, dict):
            who = value.get("from") or value.get("user") or {}
            return who.get("id")
    return None


def _all_clear() -> tuple[str, ...]:
    """/audit's all-clear line in every shipped language (the fuzzer's taps may switch the admin's)."""
    i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
    source = "✅ ok: balances, orders, renewals, upstream purchases and the ledger agree."
    return tuple(i18n.gettext(source, locale=language) for language in languages.LANGUAGES)
