"""Logging set-up: one format, and no secret ever written, whoever logs it.

aiohttp and aiogram put the request URL into their errors, and a Bot API URL holds the bot token
(``…/bot123456:AA…/getUpdates``): a dropped connection would write the token into the log at ERROR.
:class:`SecretFilter` masks every secret in a record's message, arguments, traceback and stack
before any handler formats it. :func:`setup_logging` puts it on the root handlers, which every
logger's records reach (aiogram, aiohttp, asyncio, APScheduler, ours), and on the hooks that print
uncaught exceptions.

``LOG_FORMAT=json`` swaps the text format for :class:`JsonFormatter`: one JSON object per line, with
the update, user and order the line is about (:mod:`bot.runtime.log_context`) for a log collector to
index. The filters run before any formatter, so the JSON holds the masked message and traceback.

:class:`BriefErrors` shortens the log of an error the bot already knows and reports (an exception
class with ``log_traceback = False``, e.g. the database gone): one line, not a traceback per update
and per job run.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from bot.runtime import log_context

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: secrets shorter than this are not masked: replacing "1" or "ab" everywhere would garble the log
MIN_SECRET_LENGTH = 6

MASK = "***"

#: where a ``password=`` value in a URL's query ends
QUERY_END = r"(?=[&#'\"\s]|$)"


class SecretFilter(logging.Filter):
    """Replaces each secret in a log record by a mask; never drops a record.

    A bot token ``<id>:<secret>`` becomes ``<id>:***`` (the bot's id is public), its secret half
    alone ``***``; other secrets (upstream API keys) ``***``. Each is also masked percent-encoded, as
    it appears in a URL. The record leaves with its message formatted (``args`` cleared) and its
    traceback already rendered into ``exc_text`` (``exc_info`` cleared), so no formatter can render
    the originals again.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        replacements: dict[str, str] = {}
        self._in_urls: list[tuple[re.Pattern[str], str]] = []
        for secret in secrets:
            secret = secret.strip()
            if "://" in secret:  # a URL (DATABASE_URL, REDIS_URL): its passwords, not the server it names
                self._add_url(secret, replacements)
                continue
            if len(secret) < MIN_SECRET_LENGTH:
                continue
            bot_id, colon, half = secret.partition(":")
            if colon and bot_id.isdigit() and len(half) >= MIN_SECRET_LENGTH:  # a bot token
                pairs = {secret: f"{bot_id}:{MASK}", half: MASK}
            else:
                pairs = {secret: MASK}
            for plain, masked in pairs.items():
                replacements[plain] = masked
                replacements[quote(plain, safe="")] = masked
        # longest first: the whole token before its secret half
        self._replacements = sorted(replacements.items(), key=lambda item: len(item[0]), reverse=True)

    def _add_url(self, url: str, replacements: dict[str, str]) -> None:
        """Mask each password of ``url`` where a URL holds it (``user:PASSWORD@``, ``password=PASSWORD``)
        whatever its length, and anywhere once it is long enough not to be an ordinary word."""
        for password in url_passwords(url):
            for form in {password, quote(password, safe=""), quote(password)}:
                self._in_urls.append((re.compile(f"(?<=:){re.escape(form)}(?=@)"), MASK))
                self._in_urls.append((re.compile(f"(?<=password=){re.escape(form)}{QUERY_END}", re.IGNORECASE), MASK))
                if len(form) >= MIN_SECRET_LENGTH:
                    replacements[form] = MASK

    def mask(self, text: str) -> str:
        for pattern, masked in self._in_urls:
            text = pattern.sub(masked, text)
        for plain, masked in self._replacements:
            if plain in text:
                text = text.replace(plain, masked)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is, masked, rather than the handler's dump
            message = f"{record.msg!s} (unformattable arguments: {record.args!r})"
        record.msg, record.args = self.mask(message), None
        if record.exc_info and record.exc_info[0] is not None:
            text = record.exc_text or "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text, record.exc_info = self.mask(text), None
        elif record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


def url_passwords(url: str) -> list[str]:
    """The passwords ``url`` carries, each as written and decoded: its userinfo's, and a ``password=``
    in its query (libpq and asyncpg read one there too)."""
    parts = urlsplit(url)
    written = [parts.netloc.rpartition("@")[0].partition(":")[2]] if "@" in parts.netloc else []
    written += [value for key, value in parse_qsl(parts.query, keep_blank_values=True) if key.lower() == "password"]
    found: list[str] = []
    for password in written:
        for form in (password, unquote(password)):
            if form and form not in found:
                found.append(form)
    return found


def shown_url(url: str) -> str:
    """``url`` as it may be printed or logged: every password replaced by ``***`` (user, host, port and
    database kept: they say which server is meant)."""
    return SecretFilter([url]).mask(url)


class BriefErrors(logging.Filter):
    """A record whose exception says ``log_traceback = False`` keeps one line: message, type, text."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and not getattr(exc, "log_traceback", True):
            try:
                message = record.getMessage()
            except Exception:  # a bad format string: SecretFilter keeps what there is
                return True
            record.msg = f"{message} ({type(exc).__name__}: {exc})"
            record.args, record.exc_info, record.exc_text = None, None, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, then
    ``update_id`` / ``user_id`` / ``order_id`` when bound (an ``extra=`` of the same name wins), and
    ``traceback`` / ``stack`` as strings when the record has them. Newlines inside stay escaped, so a
    traceback never splits a line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= log_context.current()
        line |= {name: value for name in log_context.FIELDS if (value := getattr(record, name, None)) is not None}
        if record.exc_info and not record.exc_text:  # no SecretFilter on this handler (a test's own)
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["traceback"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def setup_logging(level: str, secrets: Iterable[str], fmt: str = "text") -> SecretFilter:
    """Root handler on stderr with :data:`LOG_FORMAT` (``fmt="json"``: :class:`JsonFormatter`), and every
    secret masked everywhere.

    Call before anything logs. The filter goes on every handler the root logger has (``basicConfig``
    adds one unless one exists) and on the handlers of loggers that do not propagate to it; uncaught
    exceptions, in the main thread or another, are printed masked too.
    """
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
    if fmt == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    secret_filter = SecretFilter(secrets)
    install(secret_filter)
    if fmt == "json":
        log_uncaught()
    return secret_filter


def log_uncaught() -> None:
    """Uncaught exceptions become a CRITICAL record (masked and formatted like every other line), not a
    bare traceback on stderr: with ``LOG_FORMAT=json`` a crash stays one JSON line a collector can read."""
    crash = logging.getLogger("crash")

    def excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        crash.critical("uncaught %s", kind.__name__, exc_info=(kind, value, tb))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:  # pragma: no cover - only for a crash
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "?"
        exc_info = (args.exc_type, args.exc_value, args.exc_traceback)
        crash.critical("uncaught %s in thread %s", args.exc_type.__name__, name, exc_info=exc_info)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


def install(secret_filter: SecretFilter) -> None:
    """Put ``secret_filter`` (after :class:`BriefErrors`) on every handler now configured and on the
    uncaught-exception hooks."""
    handlers: list[logging.Handler] = list(logging.getLogger().handlers)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            handlers += logger.handlers
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if secret_filter not in handler.filters:
            if not any(isinstance(f, BriefErrors) for f in handler.filters):
                handler.addFilter(BriefErrors())
            handler.addFilter(secret_filter)

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:  # pragma: no cover - only for a crash
        sys.stderr.write(secret_filter.mask("".join(traceback.format_exception(kind, value, tb))))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:  # pragma: no cover - only for a crash
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        sys.stderr.write(secret_filter.mask(f"Exception in thread {name}:\n{text}"))

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
