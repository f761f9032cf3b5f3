"""A bare aiogram 3 bot: the yardstick of ``bench/throughput.py``.

It answers every message with a 10-button inline keyboard and, on every tap, edits that message
(new text, same keyboard) and answers the tap so that its button stops spinning, as any bot must.
Nothing else: no middleware, no database, no state. It runs like the shop, by long polling with
HTML as the default parse mode, logging at INFO to stdout as aiogram's own examples do (aiogram logs
a line per handled update, as in the shop), configured by ``BOT_TOKEN`` and ``TELEGRAM_API_URL``:

    BOT_TOKEN=123:abc TELEGRAM_API_URL=http://127.0.0.1:8081 python -m bench.bare_bot
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import sys

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

BUTTONS = 10
KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [InlineKeyboardButton(text=f"Option {n}", callback_data=f"b{n}") for n in (row, row + 1)]
        for row in range(0, BUTTONS, 2)
    ]
)

router = Router(name=__name__)
_taps = itertools.count(1)


@router.message()
async def any_message(message: Message) -> None:
    await message.answer("<b>Pick one</b> of these options:", reply_markup=KEYBOARD)


@router.callback_query(F.data)
async def any_tap(query: CallbackQuery) -> None:
    if isinstance(query.message, Message):
        await query.message.edit_text(f"You picked <b>{query.data}</b> (tap {next(_taps)}).", reply_markup=KEYBOARD)
    await query.answer()


async def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout)
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"]))
    bot = Bot(os.environ["BOT_TOKEN"], session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    dp = Dispatcher()
    dp.include_router(router)
    try:
        await dp.start_polling(bot, handle_signals=True)
    finally:
        await bot.session.close()


if __name__ == "__main__":
    asyncio.run(main())
