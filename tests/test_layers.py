"""Dependencies run one way: handlers -> services (bot/) -> storage / providers.

Every module under bot/, handlers/, providers/ and storage/ is parsed (never imported) and each of its
imports, at any depth (inside functions and ``if TYPE_CHECKING`` too), is checked:

- bot/ never imports handlers, except the composition root (bot/app.py: the one module that does, checked
  below), which wires the Telegram side (notifier, broadcast view, routers) into the services through their
  ports;
- handlers import none of the wiring (bot/app.py, bot/__main__.py, bot/services.py): they get their
  services by name from the Dispatcher;
- providers/ and storage/ import neither bot nor handlers;
- handlers reach the database only through services: from storage they import record types (classes,
  enums, exceptions: ``from storage.orders import Order``), never a storage module or function;
- handlers do not import an upstream adapter's insides: a provider package (providers/<upstream>/) and
  the transport, registry and demo modules are for the composition root only. Handlers may use
  providers' shared vocabulary (names, money, otp, base, errors, the breaker states of guard).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("bot", "handlers", "providers", "storage")
#: the modules under bot/ that import handlers (each one does: see the last test)
COMPOSITION_ROOT = {"bot.app"}
#: the wiring, which handlers never import
WIRING = COMPOSITION_ROOT | {"bot.__main__", "bot.services"}
#: modules of providers/ that only the composition root may use (plus every adapter package)
PROVIDER_INTERNALS = {"providers.http", "providers.registry", "providers.demo"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str) -> Iterator[tuple[str, str]]:
    """Every module or name ``source`` imports, relative ones resolved, with how: ``import a`` yields
    ``("a", "module")``, ``from a import b`` yields ``("a", "from")`` and ``("a.b", "name")``."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from ((alias.name, "module") for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            yield base, "from"
            yield from ((f"{base}.{alias.name}", "name") for alias in node.names)


def adapter_internal(target: str) -> bool:
    parts = target.split(".")
    if parts[0] != "providers" or len(parts) < 2:
        return False
    if ".".join(parts[:2]) in PROVIDER_INTERNALS:
        return True
    return (ROOT / "providers" / parts[1]).is_dir()  # providers/<upstream>/...: an adapter's insides


def storage_reach(target: str, how: str) -> bool:
    """A storage module (``import storage.users``, ``from storage import users``) or a lowercase name from
    one (``from storage.users import upsert``); a record type (``from storage.orders import Order``) is not."""
    if target.split(".")[0] != "storage" or how == "from":  # ``from storage.x import ...``: the names decide
        return False
    return how == "module" or not target.rsplit(".", 1)[-1][:1].isupper()


def wiring(target: str) -> bool:
    return any(target == root or target.startswith(root + ".") for root in WIRING)


def violations(module: str, source: str) -> list[str]:
    layer = module.split(".")[0]
    found = []
    for target, how in imported(source, module):
        top = target.split(".")[0]
        if layer == "bot" and top == "handlers" and module not in COMPOSITION_ROOT:
            found.append(f"{module} imports {target}: services must not know the Telegram side")
        elif layer in ("providers", "storage") and top in ("bot", "handlers"):
            found.append(f"{module} imports {target}: {layer} sits under the services")
        elif layer == "handlers" and adapter_internal(target):
            found.append(f"{module} imports {target}: only the composition root builds adapters")
        elif layer == "handlers" and storage_reach(target, how):
            found.append(f"{module} imports {target}: handlers reach storage through services (record types only)")
        elif layer == "handlers" and wiring(target):
            found.append(f"{module} imports {target}: handlers get services from the Dispatcher, not the wiring")
    return sorted(set(found))


def test_the_checker_catches_each_kind_of_violation() -> None:
    assert violations("bot.jobs", "from handlers.notifier import Notifier") != []
    assert violations("bot.orders.placing", "def f():\n    import handlers.cards\n") != []
    assert violations("bot.operator.stats", "from ...handlers import keyboards") != []
    assert violations("storage.orders", "from bot.settings import Settings") != []
    assert violations("providers.catalog", "import handlers") != []
    assert violations("handlers.buy", "from providers.smsactivate import client") != []
    assert violations("handlers.buy", "from providers import http") != []
    assert violations("bot.__main__", "from handlers.routers import build_router") != []
    assert violations("bot.services", "from handlers.notifier import Notifier") != []
    assert violations("handlers.notifier", "from storage import users") != []
    assert violations("handlers.notifier", "from storage import orders as order_rows") != []
    assert violations("handlers.payment_guard", "import storage.payments") != []
    assert violations("handlers.middlewares", "from storage.users import upsert") != []
    assert violations("handlers.buy", "def f():\n    from storage.db import Database, iso\n") != []
    assert violations("handlers.buy", "from ..storage import users") != []
    assert violations("handlers.buy", "from bot.app import build_dispatcher") != []
    assert violations("handlers.orders", "from bot.services import Services") != []
    assert violations("handlers.start", "import bot.__main__") != []
    assert violations("bot.app", "from handlers.notifier import Notifier") == []
    assert violations("handlers.buy", "from providers.names import service_name\nfrom storage.users import User") == []
    assert violations("handlers.errors", "from storage.db import DatabaseGone") == []
    assert violations("handlers.buy", "from bot.orders.placing import OrderService") == []
    assert violations("bot.jobs", "from bot.notifications import Notifications") == []


def test_dependencies_run_one_way() -> None:
    modules = [path for layer in LAYERS for path in sorted((ROOT / layer).rglob("*.py"))]
    assert len(modules) > 50
    found = [v for path in modules for v in violations(module_name(path), path.read_text(encoding="utf-8"))]
    assert found == []


def test_the_composition_root_is_what_imports_handlers() -> None:
    for module in COMPOSITION_ROOT:
        path = ROOT.joinpath(*module.split(".")).with_suffix(".py")
        targets = imported(path.read_text(encoding="utf-8"), module)
        assert any(target.split(".")[0] == "handlers" for target, _ in targets), module
