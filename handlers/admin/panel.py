"""The operator's panel: /admin menu, statistics, upstreams, prices, and /markup and /price."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.money.billing import Billing
from bot.operator.prices import PriceAdmin, parse_key, parse_markup
from bot.operator.stats import Stats
from bot.operator.upstreams import Upstreams
from bot.settings import Settings
from handlers.admin import keyboards as kb
from handlers.admin.texts import accounts as account_texts
from handlers.admin.texts import panel as panel_texts
from handlers.admin.texts import prices as price_texts
from handlers.admin.texts import stats as stats_texts
from handlers.admin.texts import upstreams as upstream_texts
from handlers.callback_answers import TapAnswer
from handlers.callbacks import AdminCb, AdminUpstreamCb
from handlers.screens import show
from providers.money import parse_amount

router = Router(name=__name__)


def _admin_id(event: Message | CallbackQuery) -> int:
    return event.from_user.id if event.from_user else 0


@router.message(Command("admin"))
async def admin_menu(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(panel_texts.menu(), reply_markup=kb.menu())


@router.callback_query(AdminCb.filter(F.action == "menu"))
async def menu_button(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await show(query, panel_texts.menu(), kb.menu())


@router.callback_query(AdminCb.filter(F.action == "stats"))
async def stats_screen(query: CallbackQuery, stats: Stats, billing: Billing) -> None:
    report = await stats.report()
    await show(query, stats_texts.stats(report, billing.fmt), kb.back(refresh="stats"))


@router.callback_query(AdminCb.filter(F.action == "users"))
async def users_screen(query: CallbackQuery) -> None:
    await show(query, account_texts.users_help(), kb.back())


async def _upstreams(query: CallbackQuery, upstreams: Upstreams) -> None:
    infos = await upstreams.status()
    await show(query, upstream_texts.upstreams(infos), kb.upstreams(infos))


@router.callback_query(AdminCb.filter(F.action == "upstreams"))
async def upstreams_screen(query: CallbackQuery, upstreams: Upstreams, callback_answer: TapAnswer) -> None:
    await callback_answer.now()  # balances may take a moment; stop the button's spinner first
    await _upstreams(query, upstreams)


@router.callback_query(AdminUpstreamCb.filter())
async def toggle_upstream(
    query: CallbackQuery, callback_data: AdminUpstreamCb, upstreams: Upstreams, callback_answer: TapAnswer
) -> None:
    try:
        await upstreams.set_enabled(_admin_id(query), callback_data.name, callback_data.enable)
    except LookupError:
        callback_answer.alert(upstream_texts.no_such_upstream())
        return
    await callback_answer.now(upstream_texts.switched(callback_data.enable))  # before the slow balances
    await _upstreams(query, upstreams)


@router.callback_query(AdminCb.filter(F.action == "prices"))
async def prices_screen(query: CallbackQuery, price_admin: PriceAdmin, billing: Billing) -> None:
    text = price_texts.prices(price_admin.pricing.markup, price_admin.overrides(), billing.fmt)
    await show(query, text, kb.back(refresh="prices"))


@router.message(Command("markup"))
async def markup(message: Message, command: CommandObject, price_admin: PriceAdmin) -> None:
    try:
        percent = parse_markup(command.args or "")
    except ValueError:
        await message.answer(price_texts.markup_usage(price_admin.pricing.markup))
        return
    await price_admin.set_markup(_admin_id(message), percent)
    await message.answer(price_texts.markup_set(percent))


@router.message(Command("price"))
async def price(
    message: Message, command: CommandObject, price_admin: PriceAdmin, billing: Billing, settings: Settings
) -> None:
    parts = (command.args or "").split()
    try:
        service, country, value = parts
        parse_key(service, country)
        amount = None if value.lower() == "off" else parse_amount(value, billing.currency, settings.max_amount_minor)
    except ValueError:
        usage = price_texts.price_usage()
        await message.answer(panel_texts.with_amount_rule(usage, settings.max_amount_minor, billing.fmt))
        return
    service, country = await price_admin.set_price(_admin_id(message), service, country, amount)
    await message.answer(price_texts.price_set(service, country, None if amount is None else billing.fmt(amount)))
