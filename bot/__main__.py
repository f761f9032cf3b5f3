"""``python -m bot``: load settings, then run the bot until interrupted."""

from __future__ import annotations

import asyncio
import logging
import sys

from pydantic import ValidationError

from bot.settings import Settings


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


def main() -> None:
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from bot.app import run

    try:
        asyncio.run(run(settings))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
