"""``python -m bot``: load settings, then run the bot until interrupted."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import BinaryIO

from pydantic import ValidationError

from bot.logs import setup_logging
from bot.settings import Settings
from storage.db import DatabaseInUse, hold_database_lock


def load_settings() -> Settings:
    """Settings from the environment, or one clear line and exit status 2."""
    try:
        return Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "configuration"
        if name == "BOT_TOKEN" and (error["type"] == "missing" or not str(error.get("input") or "").strip()):
            print(
                "BOT_TOKEN is not set: create a bot with @BotFather in Telegram and put its token "
                "in .env (cp .env.example .env)",
                file=sys.stderr,
            )
        else:
            print(f"{name} is invalid: {error['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


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


def secrets(settings: Settings) -> list[str]:
    """Every secret in the settings: the bot token and each upstream's API key."""
    found = [settings.bot_token.get_secret_value()]
    found += [key for key, _url in settings.upstream_keys().values()]
    found += [upstream.api_key.get_secret_value() for upstream in settings.smsactivate_all()]
    return found


def main() -> None:
    settings = load_settings()
    setup_logging(settings.log_level, secrets(settings))  # before anything logs: no secret reaches the log
    lock = take_database(settings.database_path)  # held until the process exits
    from bot.app import run

    try:
        asyncio.run(run(settings))
    except KeyboardInterrupt:
        pass
    finally:
        lock.close()


if __name__ == "__main__":
    main()
