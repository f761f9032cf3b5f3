"""Dependencies run one way: handlers -> services (bot/) -> storage / providers.

Every module under bot/, handlers/, providers/ and storage/ is parsed (never imported) and each of its
imports, at any depth (inside functions and ``if TYPE_CHECKING`` too), is checked:

- bot/ never imports handlers, except the composition root (bot/app.py, bot/__main__.py), which wires
  the Telegram side (notifier, broadcast view, routers) into the services through their ports;
- providers/ and storage/ import neither bot nor handlers;
- handlers may import storage (its record types and a few reads: 18 modules did when this test was
  written) but not an upstream adapter's insides: a provider package (providers/<upstream>/) and the
  transport, registry and demo modules are for the composition root only. Handlers may
  use providers' shared vocabulary (names, money, otp, base, errors, the breaker states of guard).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("bot", "handlers", "providers", "storage")
COMPOSITION_ROOT = {"bot.app", "bot.__main__"}
#: modules of providers/ that only the composition root may use (plus every adapter package)
PROVIDER_INTERNALS = {"providers.http", "providers.registry", "providers.demo"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str) -> Iterator[str]:
    """Every module ``source`` imports (``from a import b`` yields ``a`` and ``a.b``), relative ones resolved."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def adapter_internal(target: str) -> bool:
    parts = target.split(".")
    if parts[0] != "providers" or len(parts) < 2:
        return False
    if ".".join(parts[:2]) in PROVIDER_INTERNALS:
        return True
    return (ROOT / "providers" / parts[1]).is_dir()  # providers/<upstream>/...: an adapter's insides


def violations(module: str, source: str) -> list[str]:
    layer = module.split(".")[0]
    found = []
    for target in imported(source, module):
        top = target.split(".")[0]
        if layer == "bot" and top == "handlers" and module not in COMPOSITION_ROOT:
            found.append(f"{module} imports {target}: services must not know the Telegram side")
        elif layer in ("providers", "storage") and top in ("bot", "handlers"):
            found.append(f"{module} imports {target}: {layer} sits under the services")
        elif layer == "handlers" and adapter_internal(target):
            found.append(f"{module} imports {target}: only the composition root builds adapters")
    return sorted(set(found))


def test_the_checker_catches_each_kind_of_violation() -> None:
    assert violations("bot.jobs", "from handlers.notifier import Notifier") != []
    assert violations("bot.orders.placing", "def f():\n    import handlers.cards\n") != []
    assert violations("bot.operator.stats", "from ...handlers import keyboards") != []
    assert violations("storage.orders", "from bot.settings import Settings") != []
    assert violations("providers.catalog", "import handlers") != []
    assert violations("handlers.buy", "from providers.smsactivate import client") != []
    assert violations("handlers.buy", "from providers import http") != []
    assert violations("bot.app", "from handlers.notifier import Notifier") == []
    assert violations("handlers.buy", "from providers.names import service_name\nfrom storage import users") == []
    assert violations("bot.jobs", "from bot.notifications import Notifications") == []


def test_dependencies_run_one_way() -> None:
    modules = [path for layer in LAYERS for path in sorted((ROOT / layer).rglob("*.py"))]
    assert len(modules) > 50
    found = [v for path in modules for v in violations(module_name(path), path.read_text(encoding="utf-8"))]
    assert found == []
