"""The operator's panel: /admin menu, statistics, upstreams, prices. Admins only, at router level."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.money.billing import Billing
from bot.operator.prices import PriceAdmin, parse_key, parse_markup
from bot.operator.stats import Stats
from bot.operator.upstreams import Upstreams
from bot.settings import Settings
from handlers import keyboards
from handlers.admin import keyboards as kb
from handlers.admin import texts
from handlers.admin.commands import IsAdmin
from handlers.callbacks import AdminCb, AdminUpstreamCb
from handlers.screens import show
from handlers.start import help_text
from providers.money import parse_amount

router = Router(name=__name__)
router.message.filter(IsAdmin())
router.callback_query.filter(IsAdmin())

PANEL_COMMANDS = ("admin", "user", "markup", "price")


def _admin_id(event: Message | CallbackQuery) -> int:
    return event.from_user.id if event.from_user else 0


@router.message(Command("admin"))
async def admin_menu(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(texts.menu(), reply_markup=kb.menu())


@router.callback_query(AdminCb.filter(F.action == "menu"))
async def menu_button(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await show(query, texts.menu(), kb.menu())
    await query.answer()


@router.callback_query(AdminCb.filter(F.action == "stats"))
async def stats_screen(query: CallbackQuery, stats: Stats, billing: Billing) -> None:
    report = await stats.report()
    await show(query, texts.stats(report, billing.fmt), kb.back(refresh="stats"))
    await query.answer()


@router.callback_query(AdminCb.filter(F.action == "users"))
async def users_screen(query: CallbackQuery) -> None:
    await show(query, texts.users_help(), kb.back())
    await query.answer()


async def _upstreams(query: CallbackQuery, upstreams: Upstreams) -> None:
    infos = await upstreams.status()
    await show(query, texts.upstreams(infos), kb.upstreams(infos))


@router.callback_query(AdminCb.filter(F.action == "upstreams"))
async def upstreams_screen(query: CallbackQuery, upstreams: Upstreams) -> None:
    await query.answer()  # balances may take a moment; stop the button's spinner first
    await _upstreams(query, upstreams)


@router.callback_query(AdminUpstreamCb.filter())
async def toggle_upstream(query: CallbackQuery, callback_data: AdminUpstreamCb, upstreams: Upstreams) -> None:
    try:
        await upstreams.set_enabled(_admin_id(query), callback_data.name, callback_data.enable)
    except LookupError:
        await query.answer(_("No such upstream."), show_alert=True)
        return
    await query.answer(_("Enabled.") if callback_data.enable else _("Disabled."))
    await _upstreams(query, upstreams)


@router.callback_query(AdminCb.filter(F.action == "prices"))
async def prices_screen(query: CallbackQuery, price_admin: PriceAdmin, billing: Billing) -> None:
    text = texts.prices(price_admin.pricing.markup, price_admin.overrides(), billing.fmt)
    await show(query, text, kb.back(refresh="prices"))
    await query.answer()


@router.message(Command("markup"))
async def markup(message: Message, command: CommandObject, price_admin: PriceAdmin) -> None:
    try:
        percent = parse_markup(command.args or "")
    except ValueError:
        await message.answer(
            _("Markup is {markup}%. Usage: <code>/markup 35</code> (0 to 1000).").format(
                markup=price_admin.pricing.markup
            )
        )
        return
    await price_admin.set_markup(_admin_id(message), percent)
    await message.answer(_("Markup set to {markup}%. New prices apply at once.").format(markup=percent))


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
        usage = _(
            "Usage: <code>/price &lt;service&gt; &lt;country&gt; &lt;price|off&gt;</code>, "
            "e.g. /price whatsapp US 0.99\n"
            "service: its code, at most 24 letters, digits, - or _; country: an ISO code such as US or IDN"
        )
        await message.answer(f"{usage}\n{texts.amount_rule(settings.max_amount_minor, billing.fmt)}")
        return
    service, country = await price_admin.set_price(_admin_id(message), service, country, amount)
    if amount is None:
        await message.answer(_("Override for {service} {country} removed.").format(service=service, country=country))
    else:
        await message.answer(
            _("{service} {country} now sells at {price}.").format(
                service=service, country=country, price=billing.fmt(amount)
            )
        )


not_admin_router = Router(name=f"{__name__}.others")


@not_admin_router.message(Command(*PANEL_COMMANDS))
async def not_admin(message: Message) -> None:
    """The panel does not exist for anyone else: they get the ordinary help."""
    await message.answer(help_text(), reply_markup=keyboards.back_to_menu())
