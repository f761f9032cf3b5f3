"""A local fake Telegram Bot API server (aiohttp) for end-to-end tests of the bot.

Point aiogram at it with ``AiohttpSession(api=TelegramAPIServer.from_base(fake.url))``. It records every
request, keeps each chat's messages (edits applied), serves queued updates through long-polling
``getUpdates`` or, once ``setWebhook`` was called, POSTs them to the webhook (:mod:`tests.fakes.telegram_webhook`;
``getUpdates`` then answers 409), and fails on demand (:meth:`FakeTelegram.inject_error`,
:meth:`FakeTelegram.block_user`).

Like Telegram: HTML text is checked and stored as the user sees it (tags removed), editing without
``reply_markup`` drops the inline keyboard, a callback or pre-checkout query can be answered once, and
``refundStarPayment`` knows only charges fed by :meth:`FakeTelegram.successful_payment`.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import itertools
import re
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Self, TypeVar

from aiohttp import web

from tests.fakes import telegram_objects as tg
from tests.fakes.telegram_objects import ApiError, Call, bad_request
from tests.fakes.telegram_webhook import CONFLICT as _WEBHOOK_ACTIVE
from tests.fakes.telegram_webhook import Webhook

__all__ = ["Call", "FakeTelegram"]

T = TypeVar("T")
#: setMyCommands: 1-32 lower-case letters, digits and underscores
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE = re.compile(r"[a-z]{2}")
_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"


def _sticker(number: int) -> dict[str, Any]:
    return {
        "file_id": f"CAACAgIAAxk-fake-sticker-{number}",
        "file_unique_id": f"AgADfake{number}",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": "👍",
    }


class FakeTelegram:
    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_id: int = 123456,
        bot_username: str = "test_sms_bot",
        *,
        local: bool = False,
    ):
        """``local``: act as a self-hosted Bot API server run with ``--local``, whose setWebhook takes http
        and any port; otherwise it takes only what Telegram's cloud does (https on 443, 80, 88 or 8443)."""
        self.token, self.bot_id, self.bot_username = token, bot_id, bot_username
        self.url = ""
        self.latency = 0.0  # seconds before answering each method but getUpdates
        self.calls: list[Call] = []
        self.call_times: list[float] = []  # loop time each of ``calls`` arrived, index for index
        self.served_at: dict[int, float] = {}  # update id -> loop time getUpdates first handed it out
        self.last_update_id = 0  # of the update queued last
        self.pre_checkout_answers: dict[str, dict[str, Any]] = {}  # query id -> {"ok", "error_message"}
        self.refunded: set[str] = set()  # telegram_payment_charge_id
        self.commands: dict[str, list[dict[str, Any]]] = {}  # "scope type:chat_id:user_id|language" -> commands
        self.descriptions: dict[str, str] = {}  # language code ("" for the default) -> setMyDescription
        self.short_descriptions: dict[str, str] = {}  # language code ("" for the default) -> setMyShortDescription
        self._bot = tg.bot_user(bot_id, bot_username)
        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int, dict[int, dict[str, Any]]] = {}  # chat id -> message id -> Message
        self._shown: dict[int, list[dict[str, Any]]] = {}  # chat id -> every message as sent or edited, in order
        self._sources: dict[tuple[int, int], str] = {}  # text/caption as sent, to detect "not modified"
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._update_ids = itertools.count(100_000_001)
        self._query_ids = itertools.count(4_382_000_000_000_000_001)
        self._updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._open_queries: set[str] = set()
        self._answered: set[str] = set()
        self._open_pre_checkouts: set[str] = set()
        self._charges: set[str] = set()
        self._blocked: set[int] = set()
        self._errors: list[dict[str, Any]] = []
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port = 0
        self._drops: dict[str, int] = {}  # method -> how many more calls lose their connection
        self.webhook = Webhook(self._next_for_webhook, self._delivered, local=local)
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getme": lambda p: tg.bot_user(self.bot_id, self.bot_username, full=True),
            "getupdates": self._get_updates,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": lambda p: self.webhook.info(len(self._updates), self._allowed_updates),
            "setmycommands": self._set_my_commands,
            "getmycommands": lambda p: self.commands.get(self._commands_key(p), []),
            "deletemycommands": self._delete_my_commands,
            "setmydescription": lambda p: self._set_profile_text(p, "description", 512, self.descriptions),
            "setmyshortdescription": lambda p: self._set_profile_text(
                p, "short_description", 120, self.short_descriptions
            ),
            "sendphoto": self._send_photo,
            **tg.message_methods(self),
        }

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        self._port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self._port}"

    async def stop(self) -> None:
        self._closing = True
        self._new_update.set()  # release long polls
        await self.webhook.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- feeding updates -----------------------------------------------------------------------
    def send_message(
        self,
        user_id: int,
        text: str,
        *,
        username: str | None = None,
        first_name: str = "Test",
        language_code: str | None = "en",
        chat_id: int | None = None,
        anonymous_admin: bool = False,
        reply_to: int | None = None,
    ) -> int:
        """The user writes ``text`` to the bot in their private chat; returns the message id.

        ``language_code=""`` sends the field empty (None leaves it out); ``chat_id`` (negative) writes in a
        group instead, and ``anonymous_admin`` sends it as the group itself (from GroupAnonymousBot);
        ``reply_to`` makes it a reply to that message of the chat (which must exist)."""
        sender = tg.user(user_id, first_name, username, language_code or "")
        if language_code == "":
            sender["language_code"] = ""
        content = self._text_content(text)
        if reply_to is not None:
            content["reply_to_message"] = self._replied(user_id if chat_id is None else chat_id, reply_to)
        return self._user_message(sender, content, chat_id, anonymous_admin)

    def send_sticker(self, user_id: int, *, chat_id: int | None = None) -> int:
        """The user sends a sticker; returns the message id."""
        return self._user_message(tg.user(user_id), {"sticker": _sticker(len(self.calls))}, chat_id)

    def send_user_photo(self, user_id: int, caption: str = "", *, chat_id: int | None = None) -> int:
        """The user sends a photo (with an optional caption); returns the message id."""
        content: dict[str, Any] = {"photo": tg.photo_sizes(len(self.calls))}
        if caption:
            content["caption"] = caption
        return self._user_message(tg.user(user_id), content, chat_id)

    def channel_post(self, chat_id: int, text: str) -> int:
        """A post in a channel where the bot is an administrator; returns the message id."""
        channel = {"id": chat_id, "type": "channel", "title": "Test channel"}
        message_id = next(self._message_ids.setdefault(chat_id, itertools.count(1)))
        msg = {"message_id": message_id, "sender_chat": channel, "chat": channel, "date": 1, **self._text_content(text)}
        self._chats.setdefault(chat_id, {})[message_id] = msg
        self._queue("channel_post", copy.deepcopy(msg))
        return message_id

    def press(
        self, user_id: int, callback_data: str, *, message_id: int, chat_id: int | None = None, origin: str = "message"
    ) -> str:
        """The user presses an inline button of a bot message; returns the callback query id.

        ``origin`` other than ``"message"`` sends what Telegram sends for a button the bot cannot see:
        ``"inline"`` (an inline-mode message: no ``message``), ``"inaccessible"`` (``date`` 0) or
        ``"unknown"`` (a message ``message_id`` this chat never had)."""
        chat_id = user_id if chat_id is None else chat_id
        query_id = str(next(self._query_ids))
        query: dict[str, Any] = {"id": query_id, "from": self._user(user_id), "chat_instance": f"-{user_id}0042"}
        if origin == "message":
            msg = self._chats.get(chat_id, {}).get(message_id)
            if msg is None:
                raise AssertionError(f"no message {message_id} in chat {chat_id}")
            query["message"] = copy.deepcopy(msg)
        elif origin == "inline":
            query["inline_message_id"] = f"AgAAAFake{message_id}"
        elif origin == "inaccessible":
            query["message"] = {"chat": tg.chat(chat_id, self._users.get(chat_id)), "message_id": message_id, "date": 0}
        elif origin == "unknown":
            if message_id in self._chats.get(chat_id, {}):
                raise AssertionError(f"message {message_id} exists in chat {chat_id}")
            chat = tg.chat(chat_id, self._users.get(chat_id))
            query["message"] = tg.message(message_id, self._bot, chat, text="an old message")
        else:
            raise ValueError(f"unknown origin {origin!r}")
        self._open_queries.add(query_id)
        query["data"] = callback_data
        self._queue("callback_query", query)
        return query_id

    def pre_checkout(self, user_id: int, payload: str, total_amount: int, currency: str = "XTR") -> str:
        query_id = str(next(self._query_ids))
        self._open_pre_checkouts.add(query_id)
        query = {
            "id": query_id,
            "from": self._user(user_id),
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
        }
        self._queue("pre_checkout_query", query)
        return query_id

    def successful_payment(
        self, user_id: int, payload: str, total_amount: int, charge_id: str, currency: str = "XTR"
    ) -> int:
        self._charges.add(charge_id)
        payment = {
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",
        }
        msg = self._store(user_id, self._user(user_id), {"successful_payment": payment})
        self._queue("message", copy.deepcopy(msg))
        return msg["message_id"]

    # -- knobs ---------------------------------------------------------------------------------
    async def post_to_webhook(self, update: dict[str, Any], *, secret: str | None) -> int:
        """POST a raw ``update`` to the webhook with ``secret`` in the secret-token header (None: no
        header), not through the queue; returns the HTTP status (0: no connection)."""
        return await self.webhook.post(update, secret)

    def message_update(self, user_id: int, text: str) -> dict[str, Any]:
        """An update carrying ``text`` from the user, as Telegram would send it, without queueing it."""
        sender = self._user(user_id)
        message_id = next(self._message_ids.setdefault(user_id, itertools.count(1)))
        msg = tg.message(message_id, sender, tg.chat(user_id, sender), **self._text_content(text))
        return {"update_id": next(self._update_ids), "message": msg}

    def take_updates(self) -> list[dict[str, Any]]:
        """Every queued update, removed from the queue: for feeding a dispatcher in-process."""
        taken, self._updates = self._updates, []
        return copy.deepcopy(taken)

    def inject_error(
        self,
        method: str,
        *,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls to ``method`` (to ``chat_id`` only, if given) fail like this."""
        rule = {"error_code": error_code, "description": description, "retry_after": retry_after}
        self._errors.append({"method": method.lower(), "chat_id": chat_id, "left": times, **rule})

    def block_user(self, user_id: int) -> None:
        self._blocked.add(user_id)

    def unblock_user(self, user_id: int) -> None:
        self._blocked.discard(user_id)

    def drop_connection(self, method: str, *, times: int = 1) -> None:
        """The next ``times`` calls to ``method`` lose their connection mid-request.

        The request is read, then the answer is cut off after a broken status line and the
        connection closed, as when a proxy or the network fails half-way. aiohttp reports it as a
        ``ClientResponseError`` quoting the request's URL, bot token included.
        """
        self._drops[method.lower()] = self._drops.get(method.lower(), 0) + times

    async def refuse_connections(self) -> None:
        """Stop listening: connections to :attr:`url` are refused (the address stays reserved for us
        only as long as nothing else takes the port). :meth:`accept_connections` listens again."""
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def accept_connections(self) -> None:
        """Listen again on the same port, after :meth:`refuse_connections`."""
        if self._site is None and self._runner is not None:
            self._site = web.TCPSite(self._runner, "127.0.0.1", self._port)
            await self._site.start()

    # -- inspection ----------------------------------------------------------------------------
    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def answered_callbacks(self) -> set[str]:
        return set(self._answered)

    def messages_to(self, user_id: int) -> list[dict[str, Any]]:
        """The bot's messages in that chat as they are now, in sending order (deleted ones left out)."""
        chat = self._chats.get(user_id, {})
        return [copy.deepcopy(m) for _, m in sorted(chat.items()) if m.get("from", {}).get("id") == self.bot_id]

    def shown_to(self, user_id: int) -> list[dict[str, Any]]:
        """Every screen the bot put in that chat: each message as sent, then as each edit left it (a screen
        that an edit replaced is still here), in order."""
        return copy.deepcopy(self._shown.get(user_id, []))

    def find_button(self, user_id: int, text_contains: str) -> tuple[int, str]:
        """(message id, callback data) of the newest bot button whose text contains ``text_contains``."""
        seen: list[str] = []
        for msg in reversed(self.messages_to(user_id)):
            for row in msg.get("reply_markup", {}).get("inline_keyboard", []):
                for button in row:
                    if text_contains.lower() in button["text"].lower() and "callback_data" in button:
                        return msg["message_id"], button["callback_data"]
                    seen.append(f"{msg['message_id']}: {button['text']!r}")
        raise AssertionError(f"no button containing {text_contains!r} in chat {user_id}; seen: {seen}")

    async def wait_for(self, predicate: Callable[[], T | bool | None], timeout: float = 10.0) -> T:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate()):
            if loop.time() >= deadline:
                recent = "\n  ".join(call.summary() for call in self.calls[-15:])
                raise AssertionError(f"condition not met in {timeout}s; last calls:\n  {recent}")
            await asyncio.sleep(0.05)
        return result  # type: ignore[return-value]

    # -- HTTP ----------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json" and request.can_read_body:
            body = await request.json()
            params.update(body if isinstance(body, dict) else {})
        elif request.method == "POST":
            for key, value in (await request.post()).items():
                params[key] = value.file.read() if isinstance(value, web.FileField) else value
        params = {key: tg.decode_value(key, value) for key, value in params.items()}
        token, _, method = request.path.removeprefix("/bot").partition("/")
        self.calls.append(Call(method, params))
        self.call_times.append(asyncio.get_running_loop().time())
        if self._drops.get(method.lower(), 0) > 0 and request.transport is not None:
            self._drops[method.lower()] -= 1
            request.transport.write(b"HTTP/1.1 \r\n")  # the answer cut short: no status code
            request.transport.close()
            return web.Response()  # never reaches the client
        if not request.path.startswith("/bot") or not method or "/" in method:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        if token != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        try:
            result = await self._call(method.lower(), params)
        except ApiError as error:
            return web.json_response(error.body(), status=error.error_code)
        return web.json_response({"ok": True, "result": result})

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        if method != "getupdates" and self.latency:
            await asyncio.sleep(self.latency)
        chat_id = params.get("chat_id")
        for rule in self._errors:
            if rule["left"] > 0 and rule["method"] == method and rule["chat_id"] in (None, chat_id):
                rule["left"] -= 1
                raise ApiError(rule["error_code"], rule["description"], rule["retry_after"])
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        handler = self._methods.get(method)
        if handler is None:
            return True
        result = handler(params)
        return await result if inspect.isawaitable(result) else result

    # -- methods -------------------------------------------------------------------------------
    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook.url:
            raise ApiError(409, _WEBHOOK_ACTIVE)
        self._poll_generation += 1
        generation = self._poll_generation
        self._new_update.set()  # an older long poll ends with 409, as on Telegram
        if (allowed := params.get("allowed_updates")) is not None:
            self._allowed_updates = allowed
        if offset := params.get("offset", 0):
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + params.get("timeout", 0)
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, _CONFLICT)
            self._updates = [u for u in self._updates if self._wanted(u)]  # others are dropped
            if self._updates or self._closing or loop.time() >= deadline:
                batch = self._updates[: params.get("limit", 100)]
                for update in batch:
                    self.served_at.setdefault(update["update_id"], loop.time())
                return copy.deepcopy(batch)
            self._new_update.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), deadline - loop.time())

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return self.webhook.delete()

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook.set(params)
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if (allowed := params.get("allowed_updates")) is not None:
            self._allowed_updates = allowed
        self._new_update.set()  # a long poll still waiting ends (409 from its next call)
        return True

    async def _next_for_webhook(self) -> dict[str, Any] | None:
        """The oldest update the webhook should receive (left queued until delivered), or None after a
        second without one (the delivery loop then checks the webhook is still set)."""
        self._updates = [u for u in self._updates if self._wanted(u)]  # others are dropped
        if self._updates and not self._closing:
            update = self._updates[0]
            self.served_at.setdefault(update["update_id"], asyncio.get_running_loop().time())
            return copy.deepcopy(update)
        self._new_update.clear()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._new_update.wait(), 1.0)
        return None

    def _delivered(self, update: dict[str, Any]) -> None:
        self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands", [])
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands are invalid")
        for command in commands:
            if not _COMMAND.fullmatch(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    @staticmethod
    def _set_profile_text(params: dict[str, Any], field: str, limit: int, store: dict[str, str]) -> bool:
        """setMyDescription / setMyShortDescription: plain text up to ``limit`` characters, per language."""
        language = _language_code(params)
        text = str(params.get(field, ""))
        if tg.utf16_len(text) > limit:
            raise bad_request(f"{field.upper()}_INVALID")
        store[language] = text
        return True

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        text = tg.checked_text(params, "text", limit=4096)
        content = {"text": text, **({"entities": params["entities"]} if "entities" in params else {})}
        return self._send(params, content, params.get("text", ""))

    def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        photo = params.get("photo")
        if not photo:
            raise bad_request("there is no photo in the request")
        file_id = photo if isinstance(photo, str) and not photo.startswith(("attach://", "http")) else None
        content: dict[str, Any] = {"photo": tg.photo_sizes(len(self.calls), file_id)}
        if caption := tg.checked_text(params, "caption", limit=1024, required=False):
            content["caption"] = caption
        return self._send(params, content, params.get("caption", ""))

    def _send_invoice(self, params: dict[str, Any]) -> dict[str, Any]:
        prices = params.get("prices") or []
        invoice = {
            "title": params.get("title", ""),
            "description": params.get("description", ""),
            "start_parameter": params.get("start_parameter", ""),
            "currency": params.get("currency", ""),
            "total_amount": sum(price["amount"] for price in prices),
        }
        if not invoice["title"] or not invoice["currency"] or not prices or "payload" not in params:
            raise bad_request("INVOICE_INVALID")
        return self._send(params, {"invoice": invoice}, "")

    def _copy_message(self, params: dict[str, Any]) -> dict[str, int]:
        source = self._chats.get(params.get("from_chat_id", 0), {}).get(params.get("message_id", 0))
        if source is None:
            raise bad_request("message to copy not found")
        content = {key: copy.deepcopy(source[key]) for key in tg.CONTENT_FIELDS if key in source}
        if "caption" in params:
            content["caption"] = tg.checked_text(params, "caption", limit=1024, required=False)
        return {"message_id": self._send(params, content, content.get("text", ""))["message_id"]}

    def _edit(self, params: dict[str, Any], field: str | None) -> dict[str, Any] | bool:
        if "inline_message_id" in params:
            return True
        chat_id, message_id = self._chat_id(params), params.get("message_id")
        msg = self._chats.get(chat_id, {}).get(message_id)  # type: ignore[arg-type]
        if msg is None:
            raise bad_request("message to edit not found")
        if msg["from"]["id"] != self.bot_id:
            raise bad_request("message can't be edited")
        new = {k: v for k, v in msg.items() if k not in ("reply_markup", "edit_date")}
        source = self._sources.get((chat_id, message_id), "")
        if field is not None:
            source = tg.edit_field(msg, new, params, field, media=("photo",))
            entities_key = "entities" if field == "text" else "caption_entities"
            new.pop(entities_key, None)
            if entities_key in params:
                new[entities_key] = params[entities_key]
        if markup := tg.check_inline_markup(params.get("reply_markup")):
            new["reply_markup"] = markup
        same_markup = new.get("reply_markup") == msg.get("reply_markup")
        if source == self._sources.get((chat_id, message_id), "") and same_markup:
            raise bad_request(tg.NOT_MODIFIED)
        new["edit_date"] = new["date"] + 1
        self._chats[chat_id][message_id] = new  # type: ignore[index]
        self._sources[(chat_id, message_id)] = source  # type: ignore[index]
        self._shown.setdefault(chat_id, []).append(copy.deepcopy(new))
        return copy.deepcopy(new)

    def _delete_message(self, params: dict[str, Any]) -> bool:
        if self._chats.get(self._chat_id(params), {}).pop(params.get("message_id", 0), None) is None:
            raise bad_request("message to delete not found")
        return True

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = tg.open_query(params, "callback_query_id", self._open_queries, tg.QUERY_INVALID)
        self._open_queries.discard(query_id)
        self._answered.add(query_id)
        return True

    def _answer_pre_checkout_query(self, params: dict[str, Any]) -> bool:
        query_id = tg.open_query(params, "pre_checkout_query_id", self._open_pre_checkouts, "QUERY_ID_INVALID")
        self._open_pre_checkouts.discard(query_id)
        answer = {"ok": params.get("ok"), "error_message": params.get("error_message")}
        self.pre_checkout_answers[query_id] = answer
        return True

    def _refund_star_payment(self, params: dict[str, Any]) -> bool:
        charge_id = params.get("telegram_payment_charge_id", "")
        if charge_id not in self._charges:
            raise bad_request("CHARGE_NOT_FOUND")
        if charge_id in self.refunded:
            raise bad_request("CHARGE_ALREADY_REFUNDED")
        self.refunded.add(charge_id)
        return True

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _text_content(text: str) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if entities := tg.command_entities(text):
            content["entities"] = entities
        return content

    def _user_message(
        self, sender: dict[str, Any], content: dict[str, Any], chat_id: int | None, anonymous_admin: bool = False
    ) -> int:
        """``sender`` (the fake's user of that id from now on) writes ``content`` in their private chat or ``chat_id``;
        returns the message id."""
        user_id = sender["id"]
        self._users[user_id] = sender
        chat_id = user_id if chat_id is None else chat_id
        if anonymous_admin:
            sender = copy.deepcopy(tg.GROUP_ANONYMOUS_BOT)
            content = {"sender_chat": tg.chat(chat_id, None), **content}
        msg = self._store(chat_id, sender, content)
        self._queue("message", copy.deepcopy(msg))
        return msg["message_id"]

    def _queue(self, kind: str, obj: dict[str, Any]) -> None:
        self.last_update_id = next(self._update_ids)
        self._updates.append({"update_id": self.last_update_id, kind: obj})
        self._new_update.set()

    def _wanted(self, update: dict[str, Any]) -> bool:
        kind = next(key for key in update if key != "update_id")
        return not self._allowed_updates or kind in self._allowed_updates

    def _user(self, user_id: int) -> dict[str, Any]:
        return self._users.setdefault(user_id, tg.user(user_id))

    def _chat_id(self, params: dict[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        if not isinstance(chat_id, int):
            raise bad_request("chat not found")
        return chat_id

    def _store(self, chat_id: int, sender: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
        message_id = next(self._message_ids.setdefault(chat_id, itertools.count(1)))
        chat = tg.chat(chat_id, self._users.get(chat_id))
        msg = tg.message(message_id, sender, chat, **content)
        self._chats.setdefault(chat_id, {})[message_id] = msg
        return msg

    def _replied(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """The ``reply_to_message`` of a reply to ``message_id``: that message, without its own reply."""
        replied = self._chats.get(chat_id, {}).get(message_id)
        if replied is None:
            raise bad_request("message to be replied not found")
        return {key: copy.deepcopy(value) for key, value in replied.items() if key != "reply_to_message"}

    def _send(self, params: dict[str, Any], content: dict[str, Any], source: str) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        reply = params.get("reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        reply_to = reply_to or params.get("reply_to_message_id")
        if reply_to:
            try:
                content["reply_to_message"] = self._replied(chat_id, reply_to)
            except ApiError:
                if not (reply.get("allow_sending_without_reply") or params.get("allow_sending_without_reply")):
                    raise
        if markup := tg.check_inline_markup(params.get("reply_markup")):
            content["reply_markup"] = markup
        msg = self._store(chat_id, self._bot, content)
        self._sources[(chat_id, msg["message_id"])] = source
        self._shown.setdefault(chat_id, []).append(copy.deepcopy(msg))
        return copy.deepcopy(msg)

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> str:
        scope = params.get("scope") or {"type": "default"}
        scope_key = f"{scope.get('type')}:{scope.get('chat_id', '')}:{scope.get('user_id', '')}"
        return f"{scope_key}|{_language_code(params)}"


def _language_code(params: dict[str, Any]) -> str:
    """The ``language_code`` of a profile method: empty, or two-letter ISO 639-1, else refused as Telegram does."""
    code = str(params.get("language_code") or "")
    if code and not _LANGUAGE.fullmatch(code):
        raise bad_request("language code is invalid")
    return code
