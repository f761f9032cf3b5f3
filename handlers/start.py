"""/start, /help and the main menu."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers import keyboards
from handlers.callbacks import MenuCb
from handlers.screens import show

router = Router(name=__name__)


def welcome() -> str:
    return _(
        "👋 <b>Welcome!</b>\n"
        "Get a temporary phone number, receive the verification code right here.\n"
        "No code, no charge: cancelled or expired orders are refunded, unless the confirmation said "
        "the number is not refundable."
    )


def help_text() -> str:
    return _(
        "<b>How it works</b>\n"
        "1. Top up your balance.\n"
        "2. Buy a number: pick a country and a service, confirm the price.\n"
        "3. Enter the number in the app; the code is sent to this chat as soon as it arrives.\n"
        "4. No code before the order expires, or you cancel it first: the price is refunded. A few numbers "
        "(rentals, and some suppliers' numbers once you have left several unused) are not refundable: "
        "the confirmation screen says so before you pay.\n\n"
        "Commands: /buy /balance /orders /help"
    )


@router.message(CommandStart())
async def start(message: Message) -> None:
    await message.answer(welcome(), reply_markup=keyboards.main_menu())


@router.message(Command("help"))
async def help_command(message: Message) -> None:
    await message.answer(help_text(), reply_markup=keyboards.back_to_menu())


@router.callback_query(MenuCb.filter(F.action == "home"))
async def home(query: CallbackQuery) -> None:
    await show(query, welcome(), keyboards.main_menu())
    await query.answer()


@router.callback_query(MenuCb.filter(F.action == "help"))
async def help_button(query: CallbackQuery) -> None:
    await show(query, help_text(), keyboards.back_to_menu())
    await query.answer()
