"""Pieces of the fake Bot API (:mod:`tests.fakes.telegram`): request decoding, HTML parse mode, objects.

Objects follow https://core.telegram.org/bots/api and are plain dicts, ready to be sent as JSON.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Form fields that are free text: never parsed as JSON, booleans or numbers.
_TEXT_FIELDS = {
    "text", "caption", "title", "description", "payload", "start_parameter", "error_message", "url",
    "callback_query_id", "pre_checkout_query_id", "shipping_query_id", "inline_message_id",
    "telegram_payment_charge_id", "currency", "parse_mode", "provider_token", "provider_data",
    "question", "name", "short_description", "business_connection_id", "message_effect_id", "photo_url",
}  # fmt: skip
_INT_FIELDS = {
    "chat_id", "message_id", "user_id", "from_chat_id", "message_thread_id", "reply_to_message_id",
    "offset", "limit", "timeout", "cache_time", "total_amount", "star_count", "max_tip_amount",
}  # fmt: skip
_INT = re.compile(r"-?\d+")

# Telegram's HTML parse mode: these tags only; a bare "<" or an unknown tag is an error.
_HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji",
    "code", "pre", "blockquote",
}  # fmt: skip
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)([^<>]*)>")

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]

    def summary(self, width: int = 60) -> str:
        args = ", ".join(f"{key}={value!r:.{width}}" for key, value in self.params.items())
        return f"{self.method}({args})"


class ApiError(Exception):
    """Answered as ``{"ok": false, ...}`` with ``error_code`` as the HTTP status."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
#: the sender Telegram puts on an anonymous group administrator's messages (the group is in sender_chat)
GROUP_ANONYMOUS_BOT = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


def decode_value(key: str, value: Any) -> Any:
    """A form or query value as Telegram would understand it (aiogram sends objects as JSON strings)."""
    if not isinstance(value, str) or key in _TEXT_FIELDS:
        return value
    if key in _INT_FIELDS and _INT.fullmatch(value):
        return int(value)
    if value in ("true", "false"):
        return value == "true"
    if value.startswith(("[", "{")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def render(text: str, parse_mode: str | None) -> str:
    """The text a user sees. HTML is checked like Telegram does; other modes are kept as sent."""
    if (parse_mode or "").upper() != "HTML":
        return text
    out: list[str] = []
    open_tags: list[str] = []
    pos = 0
    while (start := text.find("<", pos)) >= 0:
        out.append(text[pos:start])
        offset = len(text[:start].encode())
        match = _TAG.match(text, start)
        if match is None:
            raise bad_request(f"can't parse entities: Can't find end of the tag at byte offset {offset}")
        closing, name = match.group(1), match.group(2).lower()
        if name not in _HTML_TAGS:
            raise bad_request(f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {offset}')
        if not closing:
            open_tags.append(name)
        elif not open_tags or open_tags[-1] != name:
            raise bad_request(f'can\'t parse entities: Unmatched end tag at byte offset {offset}: "{name}"')
        else:
            open_tags.pop()
        pos = match.end()
    if open_tags:
        raise bad_request(f"can't parse entities: Can't find end tag corresponding to start tag \"{open_tags[-1]}\"")
    out.append(text[pos:])
    return html.unescape("".join(out))


def open_query(params: dict[str, Any], key: str, open_ids: set[str], error: str) -> str:
    """The callback or pre-checkout query id ``params[key]``, refused with ``error`` unless it is still open."""
    query_id = str(params.get(key, ""))
    if query_id not in open_ids:
        raise bad_request(error)
    return query_id


def checked_text(params: dict[str, Any], field: str, *, limit: int, required: bool = True) -> str:
    """``params[field]`` as the user will see it, refused as Telegram refuses an empty or too long text."""
    text = render(str(params.get(field, "")), params.get("parse_mode"))
    if required and not text.strip():
        raise bad_request(f"message {field} is empty")
    if utf16_len(text) > limit:
        raise bad_request("message is too long" if field == "text" else "message caption is too long")
    return text


def edit_field(
    msg: dict[str, Any], new: dict[str, Any], params: dict[str, Any], field: str, media: tuple[str, ...]
) -> str:
    """Put the edited ``field`` (text, or caption of one of the ``media``) of ``msg`` into ``new``, the message
    after the edit; returns the field as sent."""
    if field not in msg and not (field == "caption" and any(key in msg for key in media)):
        raise bad_request(f"there is no {field} in the message to edit")
    new[field] = checked_text(params, field, limit=4096 if field == "text" else 1024, required=field == "text")
    if not new[field]:
        del new[field]  # an empty caption removes it
    return params.get(field, "")


def message_methods(fake: Any) -> dict[str, Callable[[dict[str, Any]], Any]]:
    """The Bot API methods both fakes answer (lower-cased names), each by the fake's method of the same name:
    ``sendMessage`` by ``fake._send_message``; the three edits by ``fake._edit(params, field)``."""
    return {
        "sendmessage": fake._send_message,
        "sendinvoice": fake._send_invoice,
        "copymessage": fake._copy_message,
        "editmessagetext": lambda p: fake._edit(p, "text"),
        "editmessagecaption": lambda p: fake._edit(p, "caption"),
        "editmessagereplymarkup": lambda p: fake._edit(p, None),
        "deletemessage": fake._delete_message,
        "answercallbackquery": fake._answer_callback_query,
        "answerprecheckoutquery": fake._answer_pre_checkout_query,
        "refundstarpayment": fake._refund_star_payment,
    }


def check_inline_markup(markup: Any) -> dict[str, Any] | None:
    """The markup a sent Message carries: inline keyboards only (reply keyboards are not echoed)."""
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    for row in markup["inline_keyboard"]:
        for button in row:
            if not button.get("text"):
                raise bad_request("BUTTON_TEXT_INVALID")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= 64:
                raise bad_request("BUTTON_DATA_INVALID")
    return markup


def user(user_id: int, first_name: str = "Test", username: str | None = None, language_code: str = "en") -> dict:
    obj: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if username:
        obj["username"] = username
    if language_code:
        obj["language_code"] = language_code
    return obj


def bot_user(bot_id: int, username: str, *, full: bool = False) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": bot_id, "is_bot": True, "first_name": "Test Bot", "username": username}
    if full:  # getMe only
        obj |= {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
    return obj


def chat(chat_id: int, sender: dict[str, Any] | None) -> dict[str, Any]:
    if chat_id < 0:
        return {"id": chat_id, "type": "supergroup" if chat_id < -(10**12) else "group", "title": "Test group"}
    sender = sender or user(chat_id)
    obj = {"id": chat_id, "type": "private", "first_name": sender["first_name"]}
    if "username" in sender:
        obj["username"] = sender["username"]
    return obj


def message(message_id: int, sender: dict[str, Any], chat_obj: dict[str, Any], **content: Any) -> dict:
    return {"message_id": message_id, "from": sender, "chat": chat_obj, "date": int(time.time()), **content}


def command_entities(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]


def photo_sizes(number: int, file_id: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            "file_id": file_id or f"AgACAgIAAxk-fake-photo-{number}-{side}",
            "file_unique_id": f"AQADfake{number}x{side}",
            "width": side,
            "height": side,
            "file_size": side * 40,
        }
        for side in (90, 320, 800)
    ]


# Message fields that describe content, copied by copyMessage.
CONTENT_FIELDS = ("text", "entities", "caption", "caption_entities", "photo", "document", "invoice")
