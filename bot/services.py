"""Every service, built once and in one place, as the typed mapping handlers receive by name.

``bot/app.py`` passes the result as ``Dispatcher(**services, notifier=notifier)``: a handler asks for
``orders`` or ``billing`` by parameter name. The Telegram side is injected: ``notifier`` builds the
:class:`bot.notifications.Notifications` the jobs speak through, and is handed back as built (its own
type, not in :class:`Services`: handlers use more of it than the port), and ``broadcast_view`` renders
broadcasts. No service builds another: each gets what it needs from here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypedDict, TypeVar

from aiogram import Bot
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.jobs import Jobs
from bot.money.audit import Audit
from bot.money.billing import Billing
from bot.money.pricing import Pricing
from bot.money.promos import Promos
from bot.money.referrals import Referrals
from bot.money.stars import Payments
from bot.notifications import Notifications
from bot.operator.accounts import AdminUsers
from bot.operator.broadcasts import Broadcasts, BroadcastView
from bot.operator.prices import PriceAdmin
from bot.operator.stats import Stats
from bot.operator.support import Support
from bot.operator.terms import Terms
from bot.operator.upstreams import Upstreams, apply_saved
from bot.orders.actions import OrderActions
from bot.orders.favourites import Favourites
from bot.orders.leases import Leases, replica_name, sole_process
from bot.orders.outbound import SmsReplies
from bot.orders.placing import Limits, OrderService
from bot.orders.refunds import RefundPolicy
from bot.orders.tracking import Tracker
from bot.people import People
from bot.settings import Settings
from bot.shop.popular import Popular
from bot.shop.shop import Shop
from providers.base import Provider
from providers.catalog import Catalog
from storage.backends import Store


class Services(TypedDict):
    settings: Settings
    db: Store
    i18n: I18n
    catalog: Catalog
    pricing: Pricing
    billing: Billing
    people: People
    orders: OrderService
    actions: OrderActions
    favourites: Favourites
    tracker: Tracker
    scheduler: AsyncIOScheduler
    jobs: Jobs
    payments: Payments
    promos: Promos
    audit: Audit
    stats: Stats
    admin_users: AdminUsers
    upstreams: Upstreams
    price_admin: PriceAdmin
    broadcasts: Broadcasts
    sms_replies: SmsReplies
    support: Support
    terms: Terms
    shop: Shop
    referrals: Referrals


N = TypeVar("N", bound=Notifications)
#: builds the Telegram side's notifier from the services it reads
NotifierFactory = Callable[[OrderService, OrderActions, Billing, People], N]


async def build_services(
    settings: Settings,
    bot: Bot,
    db: Store,
    providers: list[Provider],
    i18n: I18n,
    *,
    notifier: NotifierFactory[N],
    broadcast_view: BroadcastView,
    replica: str | None = None,
) -> tuple[Services, N]:
    """Every service, and the notifier as ``notifier`` built it; the operator's saved prices and upstream
    switches are applied on the way. ``replica``: this process's name among the replicas that share the
    database (made here, once, when not given)."""
    catalog = Catalog(providers, ttl=settings.catalog_ttl_seconds, stale_after=settings.catalog_stale_seconds)
    pricing = Pricing(settings)
    price_admin = PriceAdmin(db, pricing)
    await price_admin.load()  # the operator's saved markup (and overrides)
    await apply_saved(db, catalog)  # the operator's upstream on/off switches
    billing = Billing(db, settings.currency)
    people = People(db)
    policy = RefundPolicy(
        db,
        catalog,
        preference_percent=settings.refundable_preference_percent,
        write_off_limit=settings.write_off_limit_per_day,
    )
    limits = Limits.for_grace(
        settings.pending_grace_seconds, settings.max_active_orders_per_user, settings.purchases_per_minute
    )
    timeout = timedelta(minutes=settings.order_timeout_minutes)
    # which open orders this replica polls. A long-polling process is the only one (SQLite's file lock, or on
    # PostgreSQL the long-polling lock bot.__main__ holds): a lease not its own is a crashed predecessor's,
    # taken at once rather than waited out; replicas run in webhook mode and share
    sole = sole_process(db) or not settings.webhook_url
    leases = Leases(db, replica or replica_name(), settings.lease_seconds, sole=sole)
    leases.on_live = catalog.share_rates  # the upstreams' per-account rates, shared by the live replicas
    orders = OrderService(db, catalog, pricing, timeout, policy=policy, limits=limits, leases=leases)
    referrals = Referrals(db, settings.referral_percent)
    actions = OrderActions(orders, referrals)
    actions.reply_price = settings.outbound_sms_price_minor
    tracker = Tracker(orders, actions, settings.poll_concurrency, timedelta(seconds=settings.pending_grace_seconds))
    notifications = notifier(orders, actions, billing, people)
    payments = Payments(db, settings.star_packages, settings.star_rate)
    upstreams = Upstreams(db, catalog, pricing, settings)
    services = Services(
        settings=settings,
        db=db,
        i18n=i18n,
        catalog=catalog,
        pricing=pricing,
        billing=billing,
        people=people,
        orders=orders,
        actions=actions,
        favourites=Favourites(db, orders),
        tracker=tracker,
        scheduler=AsyncIOScheduler(timezone="UTC"),
        jobs=Jobs(tracker, notifications, payments, upstreams, catalog, settings),
        payments=payments,
        promos=Promos(db),
        audit=Audit(db, pricing),
        stats=Stats(db, pricing),
        admin_users=AdminUsers(db),
        upstreams=upstreams,
        price_admin=price_admin,
        broadcasts=Broadcasts(
            bot,
            db,
            i18n,
            broadcast_view,
            settings.broadcast_rate,
            lease_seconds=settings.lease_seconds,
            replica=leases.name,
        ),
        sms_replies=SmsReplies(orders, settings.outbound_sms_price_minor),
        support=Support(db, settings.admin_ids),
        terms=Terms(settings.terms_text, settings.terms_file),
        shop=Shop(orders, Popular(db)),
        referrals=referrals,
    )
    return services, notifications
