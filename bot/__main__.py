"""``python -m bot [run | check | backup [PATH] | restore PATH | migrate-to URL]``: load settings, then run the
bot until interrupted (``run``, the default), check the setup (``check``, :mod:`bot.runtime.doctor`), copy the
database (``backup`` / ``restore``, :mod:`bot.runtime.backups`), or move an SQLite shop to PostgreSQL
(``migrate-to``, :mod:`bot.runtime.migrate_to`).

Whatever stops the start (a bad setting, a database that cannot be used, a port taken, a token
Telegram refuses) is one line on stderr naming the setting, and exit status 2; never a traceback.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import BinaryIO

from pydantic import ValidationError
from pydantic_settings import SettingsError

from bot.runtime.logs import setup_logging
from bot.settings import Settings
from storage.db import DatabaseInUse, DatabaseUnusable, hold_database_lock, probe_database


def _fail(*lines: str) -> None:
    for line in lines:
        print(line, file=sys.stderr)
    raise SystemExit(2)


def load_settings() -> Settings:
    """Settings from the environment, or one clear line per problem and exit status 2."""
    try:
        return Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "configuration"
            if name == "BOT_TOKEN" and (error["type"] == "missing" or not str(error.get("input") or "").strip()):
                lines.append(
                    "BOT_TOKEN is not set: create a bot with @BotFather in Telegram and put its token "
                    "in .env (cp .env.example .env)"
                )
            else:
                detail = error["msg"].removeprefix("Value error, ")
                where = "".join(f"[{part}]" for part in error["loc"][1:])  # inside a JSON list: which entry, which key
                lines.append(f"{name} is invalid{where and ' at ' + where}: {detail}")
        _fail(*lines)
    except SettingsError as exc:  # the environment or .env could not even be read into a value
        field = re.search(r'field "(\w+)"', str(exc))
        _fail(f"{field.group(1).upper() if field else 'configuration'} is invalid: {exc}")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"configuration cannot be read (.env): {exc}")
    raise AssertionError("unreachable")


def take_database(database: Path) -> BinaryIO:
    """The database's lock for this process's lifetime, or one clear line and exit status 2.

    Taken before anything opens or migrates the database: a second bot on the same file would
    poll Telegram a second time and message every user twice.
    """
    try:
        return hold_database_lock(database)
    except DatabaseInUse as exc:
        holder = f" (pid {exc.holder})" if exc.holder else ""
        print(
            f"DATABASE_PATH {database.absolute()} is already used by another running bot{holder}: "
            "stop it first, or give this one its own DATABASE_PATH",
            file=sys.stderr,
        )
    except OSError as exc:
        print(f"DATABASE_PATH is invalid: cannot create a lock next to {database.absolute()}: {exc}", file=sys.stderr)
    raise SystemExit(2)


def check_database(database: Path) -> None:
    """The database is an SQLite file this process can write (or can create), or one line and exit 2."""
    try:
        probe_database(database)
    except DatabaseUnusable as exc:
        _fail(f"DATABASE_PATH is invalid: {exc}")


def secrets(settings: Settings) -> list[str]:
    """Every secret in the settings: the bot token, each upstream's API key, the webhook's secret, and the
    database's and Redis's URLs (for their passwords)."""
    found = [settings.bot_token.get_secret_value()]
    found += [key for key, _url in settings.upstream_keys().values()]
    found += [upstream.api_key.get_secret_value() for upstream in settings.smsactivate_all()]
    if settings.webhook_secret is not None:
        found.append(settings.webhook_secret.get_secret_value())
    # the URLs: the filter masks their passwords (bot.runtime.logs.url_passwords), not the servers they name
    found += [url.get_secret_value() for url in (settings.database_url, settings.redis_url) if url is not None]
    return found


USAGE = "usage: python -m bot [run | check | backup [PATH] | restore PATH | migrate-to POSTGRESQL_URL]"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    command, rest = (args[0], args[1:]) if args else ("run", [])
    if command in ("-h", "--help", "help"):
        print(USAGE)
        return
    if command not in ("run", "check", "backup", "restore", "migrate-to") or (command in ("run", "check") and rest):
        _fail(USAGE)
    settings = load_settings()
    # before anything logs: no secret reaches the log
    setup_logging(settings.log_level, secrets(settings), settings.log_format)
    if command == "check":
        from bot.runtime.doctor import doctor

        raise SystemExit(asyncio.run(doctor(settings)))
    if command in ("backup", "restore"):
        from bot.runtime.backups import backup_command, restore_command

        raise SystemExit((backup_command if command == "backup" else restore_command)(settings, rest))
    if command == "migrate-to":
        from bot.runtime.migrate_to import migrate_to_command

        raise SystemExit(migrate_to_command(settings, rest))
    run_bot(settings)


def run_bot(settings: Settings) -> None:
    """Run until interrupted. On SQLite this process takes the file's lock first (a second bot on it is
    refused); on PostgreSQL there is no file and replicas may share the server, but only one long-polls
    (:func:`alone_if_polling`)."""
    lock = None
    if not settings.postgres_url:
        lock = take_database(settings.database_path)  # held until the process exits
        check_database(settings.database_path)
    try:
        from bot.app import run  # aiogram and the rest: seconds to import, so only once the settings are good
        from bot.runtime.polling_lock import alone_if_polling
        from bot.runtime.startup import StartupError

        try:
            asyncio.run(alone_if_polling(settings, run(settings)))
        except StartupError as exc:
            _fail(str(exc))
    except KeyboardInterrupt:
        pass
    finally:
        if lock is not None:
            lock.close()


if __name__ == "__main__":
    main()
