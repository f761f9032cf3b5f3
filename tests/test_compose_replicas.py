"""compose.yaml's "replicas" profile and its balancer, checked without a Docker engine.

The file is read by a small parser of the YAML it is written in (block mappings and lists, quoted and
plain scalars; PyYAML is not a dependency; where it is installed it must read the same). The profile
must hold PostgreSQL 16, Redis 7, two replicas in webhook mode on the same DATABASE_URL and REDIS_URL
(which the bot's settings accept), and nginx; the default profile stays the single SQLite bot. Then
deploy/nginx-replicas.conf runs in a real nginx in front of two stand-in replicas: it spreads the webhook
over both, passes the secret header, keeps /metrics in, and moves on when one replica is gone.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from pydantic import ValidationError

from bot.settings import Settings
from tests.conftest import free_port
from tests.test_reverse_proxy import nginx_binary

ROOT = Path(__file__).resolve().parent.parent
BALANCER = ROOT / "deploy" / "nginx-replicas.conf"
PROFILE = {"postgres", "redis", "replica-1", "replica-2", "balancer"}
SECRET = "compose-test-secret_0123456789"


def _lines(text: str) -> list[tuple[int, str]]:
    """(indent, content) of each line that holds something, comments dropped."""
    found = []
    for raw in text.splitlines():
        assert "\t" not in raw, "YAML takes no tabs"
        line = re.sub(r"""^((?:[^#"']|"[^"]*"|'[^']*')*?)\s*(?:#.*)?$""", r"\1", raw)
        if line.strip():
            found.append((len(line) - len(line.lstrip()), line.strip()))
    return found


def _scalar(text: str) -> Any:
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    return {"true": True, "false": False, "null": None, "~": None}.get(text, text)


def parse_yaml(text: str) -> Any:
    """The block YAML compose.yaml is written in: nested mappings, lists of scalars, scalars."""
    lines = _lines(text)

    def block(i: int, indent: int) -> tuple[Any, int]:
        if lines[i][1].startswith("- "):
            items = []
            while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
                items.append(_scalar(lines[i][1][2:].strip()))
                i += 1
            return items, i
        mapping: dict[str, Any] = {}
        while i < len(lines) and lines[i][0] == indent:
            key, sep, rest = lines[i][1].partition(":")
            assert sep and key not in mapping, f"bad or repeated key: {lines[i][1]}"
            i += 1
            if rest.strip():
                mapping[key] = _scalar(rest.strip())
            elif i < len(lines) and lines[i][0] > indent:
                mapping[key], i = block(i, lines[i][0])
            else:
                mapping[key] = None
        assert i == len(lines) or lines[i][0] < indent, f"bad indentation at {lines[i][1]}"
        return mapping, i

    value, end = block(0, 0)
    assert end == len(lines)
    return value


def compose() -> dict[str, Any]:
    text = (ROOT / "compose.yaml").read_text()
    parsed = parse_yaml(text)
    if importlib.util.find_spec("yaml") is not None:  # a full YAML parser, where one is installed
        import yaml  # type: ignore[import-untyped]

        assert yaml.safe_load(text) == parsed
    return parsed  # type: ignore[no-any-return]


def _filled(value: str, env: dict[str, str]) -> str:
    """Compose's ``${NAME:-default}`` interpolation with ``env``: the value, or the default when unset or empty."""
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), value)


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_the_replicas_profile_shares_one_postgresql_and_one_redis() -> None:
    services = compose()["services"]
    assert "profiles" not in services["bot"]  # the default: the single SQLite bot, as before
    assert {name for name, s in services.items() if s.get("profiles") == ["replicas"]} == PROFILE
    assert services["postgres"]["image"] == "postgres:16" and services["redis"]["image"] == "redis:7"
    assert services["balancer"]["image"].startswith("nginx:")
    replicas = [services["replica-1"], services["replica-2"]]
    envs = [r["environment"] for r in replicas]
    for name in ("DATABASE_URL", "REDIS_URL", "WEBHOOK_URL", "WEBHOOK_SECRET", "WEB_HOST", "WEB_PORT"):
        assert envs[0][name] == envs[1][name], name
    for replica in replicas:
        assert replica["image"] == services["bot"]["image"] and replica["env_file"] == ".env"
        assert {k: v["condition"] for k, v in replica["depends_on"].items()} == {
            "postgres": "service_healthy",
            "redis": "service_healthy",
        }
    assert all("healthcheck" in services[name] for name in ("postgres", "redis", "replica-1", "replica-2"))

    db = services["postgres"]["environment"]
    env = {"POSTGRES_PASSWORD": "pw0123", "WEBHOOK_URL": "https://bot.example.com/telegram", "WEBHOOK_SECRET": SECRET}
    url = urlsplit(_filled(envs[0]["DATABASE_URL"], env))
    assert (url.hostname, url.username, url.password, url.path) == (
        "postgres",
        db["POSTGRES_USER"],
        _filled(db["POSTGRES_PASSWORD"], env),
        "/" + db["POSTGRES_DB"],
    )
    assert urlsplit(envs[0]["REDIS_URL"]).hostname == "redis"
    settings = Settings(_env_file=None, bot_token="1:x", **{k.lower(): _filled(v, env) for k, v in envs[0].items()})
    assert settings.postgres_url and settings.redis_url and settings.webhook_url
    with pytest.raises(ValidationError, match="webhook_url"):  # .env without them: one line, never long polling
        Settings(_env_file=None, bot_token="1:x", **{k.lower(): _filled(v, {}) for k, v in envs[0].items()})
    # "${VAR:?message}" would stop even the default profile: compose interpolates every service first
    assert not [v for v in _strings(compose()) if ":?" in v]

    upstream = re.findall(r"^\s*server\s+([\w-]+):(\d+)\b", BALANCER.read_text(), re.MULTILINE)
    assert sorted(upstream) == [("replica-1", envs[0]["WEB_PORT"]), ("replica-2", envs[0]["WEB_PORT"])]
    assert f"./{BALANCER.relative_to(ROOT)}:/etc/nginx/conf.d/default.conf:ro" in services["balancer"]["volumes"]
    # where the single bot was: deploy/nginx.conf's TLS front stays as it is
    (published,) = services["balancer"]["ports"]
    assert published.rsplit(":", 1)[0] == services["bot"]["ports"][0].rsplit(":", 1)[0] == "127.0.0.1:8080"
    assert "proxy_pass http://127.0.0.1:8080;" in (ROOT / "deploy" / "nginx.conf").read_text()


def test_docker_compose_reads_the_profile_where_it_is_installed(tmp_path: Path) -> None:
    try:
        subprocess.run(["docker", "compose", "version"], capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("docker compose is not installed here: the parser above checked the file")
    env = {"POSTGRES_PASSWORD": "pw0123", "WEBHOOK_URL": "https://bot.example.com/telegram", "WEBHOOK_SECRET": SECRET}
    (tmp_path / "deploy").mkdir()
    (tmp_path / "compose.yaml").write_text((ROOT / "compose.yaml").read_text())
    (tmp_path / "deploy" / BALANCER.name).write_text(BALANCER.read_text())
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()) + "BOT_TOKEN=1:x\n")
    shown = subprocess.run(
        ["docker", "compose", "--profile", "replicas", "config", "--services"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert set(shown.stdout.split()) == PROFILE | {"bot"}


def render(prefix: Path, listen: int, ports: dict[str, int]) -> Path:
    """deploy/nginx-replicas.conf as a whole nginx.conf under ``prefix``: on ``listen``, each replica's
    address pointed at a local port; every other line as written."""
    site = re.sub(r"^(\s*)listen\s+80;", rf"\1listen 127.0.0.1:{listen};", BALANCER.read_text(), flags=re.MULTILINE)
    for name, port in ports.items():
        site = re.sub(rf"server\s+{name}:\d+", f"server 127.0.0.1:{port}", site)
    temp = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    for sub in temp:
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"daemon off;\nmaster_process off;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log info;\n"
        f"events {{ worker_connections 64; }}\nhttp {{\naccess_log {prefix}/access.log;\n"
        + "".join(f"{sub}_temp_path {prefix}/{sub};\n" for sub in temp)
        + site
        + "\n}\n"
    )
    return conf


async def _replica(name: str, hits: list[tuple[str, str, str]]) -> tuple[web.AppRunner, int]:
    """A stand-in replica: records (replica, path, secret header) of each request, answers 200."""

    async def handle(request: web.Request) -> web.Response:
        hits.append((name, request.path, request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")))
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def test_the_balancer_spreads_the_webhook_and_skips_a_replica_that_is_gone(tmp_path: Path) -> None:
    binary = nginx_binary()
    hits: list[tuple[str, str, str]] = []
    replicas = {name: await _replica(name, hits) for name in ("replica-1", "replica-2")}
    listen, prefix = free_port(), tmp_path / "nginx"
    prefix.mkdir()
    conf = render(prefix, listen, {name: port for name, (_, port) in replicas.items()})
    proc = await asyncio.create_subprocess_exec(
        binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{listen}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):  # up to 30 s on a slow machine
                assert proc.returncode is None, (prefix / "error.log").read_text(errors="replace")[-2000:]
                try:
                    async with session.get(base + "/metrics") as response:
                        assert response.status == 404  # the replicas' metrics stay on the compose network
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

            async def post(n: int) -> list[int]:
                statuses = []
                for i in range(n):
                    async with session.post(base + "/telegram", json={"update_id": i}, headers=headers) as response:
                        statuses.append(response.status)
                return statuses

            assert await post(6) == [200] * 6
            assert sorted({name for name, _, _ in hits}) == ["replica-1", "replica-2"]
            assert {(path, secret) for _, path, secret in hits} == {("/telegram", SECRET)}
            await replicas["replica-1"][0].cleanup()  # one replica gone: every update still lands
            hits.clear()
            assert await post(6) == [200] * 6
            assert [name for name, _, _ in hits] == ["replica-2"] * 6
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 10)
        for runner, _ in replicas.values():
            await runner.cleanup()
