"""/start, /help and the main menu."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, Message

from handlers import keyboards
from handlers.callbacks import MenuCb
from handlers.screens import show
from handlers.texts.start import help_text, welcome

__all__ = ["help_text", "router", "welcome"]  # help_text and welcome: also shown by other screens

router = Router(name=__name__)


@router.message(CommandStart())
@router.callback_query(MenuCb.filter(F.action == "home"))
async def home(target: Message | CallbackQuery) -> None:
    await show(target, welcome(), keyboards.main_menu())


@router.message(Command("help"))
@router.callback_query(MenuCb.filter(F.action == "help"))
async def how_it_works(target: Message | CallbackQuery) -> None:
    await show(target, help_text(), keyboards.back_to_menu())
