"""/referral: the user's invitation link and what it brought; ``/start r<inviter id>``: bind the inviter
(by the rules of :mod:`bot.money.referrals`), then the ordinary welcome."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.money import referrals as rules
from bot.money.billing import Billing
from bot.money.referrals import Referrals
from handlers import keyboards
from handlers.callbacks import MenuCb
from handlers.screens import show
from handlers.texts import referral as texts
from handlers.texts.start import welcome
from storage.users import User

logger = logging.getLogger(__name__)

router = Router(name=__name__)


def link(bot_username: str, user_id: int) -> str:
    return f"https://t.me/{bot_username}?start={rules.payload(user_id)}"


def referral_keyboard(invite: str) -> InlineKeyboardMarkup:
    """Share the link through Telegram's share dialog; back to the menu."""
    share = "https://t.me/share/url?" + urlencode({"url": invite, "text": texts.share_text()})
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=texts.share_button(), url=share)], [keyboards.menu_button()]]
    )


@router.message(CommandStart(deep_link=True, magic=F.args.regexp(rules.PAYLOAD)))
async def start_invited(message: Message, command: CommandObject, referrals: Referrals, user: User) -> None:
    inviter = rules.inviter_id(command.args)
    if inviter is not None:
        await referrals.bind(user.id, inviter)
    await message.answer(welcome(), reply_markup=keyboards.main_menu())


@router.message(Command("referral"))
@router.callback_query(MenuCb.filter(F.action == "referral"))
async def referral_screen(
    target: Message | CallbackQuery, bot: Bot, referrals: Referrals, billing: Billing, user: User
) -> None:
    if not referrals.enabled:
        await show(target, texts.off(), keyboards.back_to_menu())
        return
    me = await bot.me()
    if not me.username:  # every bot has one; a stub API might not say
        logger.warning("the bot has no username: no referral link")
        await show(target, texts.off(), keyboards.back_to_menu())
        return
    summary = await referrals.summary(user.id)
    invite = link(me.username, user.id)
    await show(target, texts.screen(summary, invite, billing.fmt), referral_keyboard(invite))
