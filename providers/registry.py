"""Which adapter serves which upstream name, and building the configured set from settings."""

from __future__ import annotations

import logging
from collections.abc import Callable

from providers.base import Provider
from providers.ismscode.client import ISMSCodeProvider
from providers.simsmsbox.client import SimSmsBoxProvider
from providers.smsactivate.client import SmsActivateProvider
from providers.smscartesim.client import SmsCartesimProvider
from providers.smscode.client import SMSCodeProvider
from providers.smsx.client import SmsxProvider

logger = logging.getLogger(__name__)

#: ``<NAME>_API_KEY`` / ``<NAME>_BASE_URL`` upstreams: name -> adapter factory (key, base URL)
ADAPTERS: dict[str, Callable[[str, str], Provider]] = {
    "smscartesim": SmsCartesimProvider,
    "simsmsbox": SimSmsBoxProvider,
    "ismscode": ISMSCodeProvider,
    "smscode": SMSCodeProvider,
    "smsx": SmsxProvider,
}


def build(keys: dict[str, tuple[str, str]], smsactivate: list[tuple[str, str, str, str]]) -> list[Provider]:
    """One adapter per configured upstream.

    ``keys``: name -> (api key, base URL); ``smsactivate``: (name, base URL, api key, currency) for
    each upstream speaking the sms-activate protocol.
    """
    providers = [ADAPTERS[name](key, url) for name, (key, url) in keys.items() if name in ADAPTERS]
    names = {p.name for p in providers}
    for name, url, key, currency in smsactivate:
        if name in names:
            logger.error("sms-activate upstream %r clashes with another provider's name; skipped", name)
            continue
        providers.append(SmsActivateProvider(key, url, name=name, currency=currency))
        names.add(name)
    return providers
