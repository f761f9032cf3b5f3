"""The container and the systemd unit, checked without a Docker daemon or systemd running.

The Dockerfile is parsed: its command is the bot's entry point, its health check passes against the
health server and fails without it, what it copies exists and passes .dockerignore (and .env, data/, .git
do not), the catalogs compile as its build compiles them, the user is not root and the database and
backups are in its volume. compose.yaml and deploy/smsbot.service must agree with it and with the code,
and the README must document every setting and each way to deploy.
"""

from __future__ import annotations

import asyncio
import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath

import pytest

from bot.__main__ import main
from bot.app import LOCALES
from bot.languages import LANGUAGES
from bot.runtime.health import HealthServer, Readiness
from bot.settings import Settings
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
GRACE_DEFAULT = Settings.model_fields["shutdown_grace_seconds"].default


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"^\s*#.*\n", "", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE)
    joined = re.sub(r"\\\n", " ", text)
    return [(line.split()[0].upper(), line.split(None, 1)[1].strip()) for line in joined.splitlines() if line.strip()]


def args_of(name: str) -> list[str]:
    return [args for instruction, args in instructions() if instruction == name]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in args_of("ENV"):
        env.update(pair.split("=", 1) for pair in shlex.split(args))
    return env


def dockerignore_excludes(path: str) -> bool:
    """Docker's rule (moby/patternmatcher): the last pattern matching the path or a parent of it decides."""
    excluded = False
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated, pattern = pattern.startswith("!"), pattern.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        if any(re.fullmatch(regex.replace(r"\?", "[^/]"), candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def test_the_command_is_the_entry_point_the_readme_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert json.loads(args_of("CMD")[-1]) == ["python", "-m", "bot"]
    assert (ROOT / "bot" / "__main__.py").is_file()
    main(["--help"])  # the module `python -m bot` runs, answering its usage line
    assert capsys.readouterr().out.startswith("usage: python -m bot")
    assert "$(BIN)/python -m bot" in (ROOT / "Makefile").read_text()


async def test_the_healthcheck_passes_against_the_health_server_and_fails_without_it() -> None:
    (healthcheck,) = args_of("HEALTHCHECK")
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert command[:2] == ["python", "-c"] and "/healthz" in command[2]
    port = free_port()
    server = HealthServer(Readiness(), "127.0.0.1", port)
    assert "/healthz" in {route.resource.canonical for route in server.app.router.routes() if route.resource}
    env = {**os.environ, "WEB_PORT": str(port)}

    async def probe() -> int:
        proc = await asyncio.create_subprocess_exec(sys.executable, *command[1:], env=env, stderr=subprocess.DEVNULL)
        return await asyncio.wait_for(proc.wait(), 30)

    await server.start()
    try:
        assert await probe() == 0
    finally:
        await server.stop()
    assert await probe() != 0  # nothing listening: unhealthy


def test_the_http_server_listens_outside_the_container_on_the_exposed_port() -> None:
    env = image_env()
    assert env["WEB_HOST"] == "0.0.0.0"
    assert args_of("EXPOSE") == [env["WEB_PORT"]]
    (healthcheck,) = args_of("HEALTHCHECK")
    assert f"'WEB_PORT', '{env['WEB_PORT']}'" in healthcheck  # the probe's fallback is the same port


def test_every_copied_source_exists_and_passes_dockerignore() -> None:
    copies = [shlex.split(args) for args in args_of("COPY")]
    sources = [source for *from_context, _target in copies for source in from_context]
    assert sources and not any(source.startswith("--") for source in sources)
    for source in sources:
        path = ROOT / source
        assert path.exists(), source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.suffix in (".py", ".po", ".toml")]
        names = [str(f.relative_to(ROOT)) for f in files if "__pycache__" not in f.parts]
        assert names and not [name for name in names if dockerignore_excludes(name)], source
    # `pip install .` finds every package pyproject.toml includes
    includes = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    included = {p for p in packages if any(re.fullmatch(i.replace("*", ".*"), p) for i in includes["include"])}
    assert included and included <= set(sources)


#: never in an image: the secrets, the database, the repository, the venv, tests and build leftovers
OUTSIDE = ".env data/bot.sqlite3 data/backups/x.sqlite3 .git/HEAD .venv/bin/python tests/test_e2e.py bench/__init__.py"
LEFTOVERS = "bot/__pycache__/app.cpython-311.pyc locales/en/LC_MESSAGES/messages.mo smsbot.egg-info/PKG-INFO"


@pytest.mark.parametrize("path", (OUTSIDE + " " + LEFTOVERS).split())
def test_secrets_data_and_development_files_stay_out_of_the_build_context(path: str) -> None:
    assert dockerignore_excludes(path)


def test_the_catalogs_are_where_the_bot_looks_and_compile_as_the_image_compiles_them(tmp_path: Path) -> None:
    (workdir,) = args_of("WORKDIR")
    targets = {shlex.split(a)[0]: PurePosixPath(workdir, shlex.split(a)[-1]) for a in args_of("COPY")}
    assert LOCALES == ROOT / "locales"  # beside the bot package
    assert targets["locales"] == targets["bot"].parent / "locales"  # bot/app.py's LOCALES inside the image
    (run,) = [args for args in args_of("RUN") if "pybabel compile" in args]
    assert "pip install . " in run and "[dev]" not in run
    compile_args = shlex.split(run.split("pybabel compile", 1)[1].split("&&")[0])
    shutil.copytree(ROOT / "locales", tmp_path / "locales", ignore=shutil.ignore_patterns("*.mo"))
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "compile", *compile_args], cwd=tmp_path, check=True, capture_output=True)
    for language in LANGUAGES:
        assert (tmp_path / "locales" / language / "LC_MESSAGES" / "messages.mo").stat().st_size > 1000, language


def test_the_bot_runs_as_a_user_that_is_not_root() -> None:
    users = args_of("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any("useradd" in run and users[-1] in run for run in args_of("RUN"))
    names = [name for name, _ in instructions()]
    assert names.index("USER") < names.index("CMD")


def test_the_database_and_backups_are_in_the_volume() -> None:
    (volume,) = args_of("VOLUME")
    volumes = [PurePosixPath(v) for v in json.loads(volume)]
    env = image_env()
    settings = Settings(
        _env_file=None, bot_token="1:x", database_path=env["DATABASE_PATH"], backup_dir=env["BACKUP_DIR"]
    )
    for path in (settings.database_path, settings.backup_dir):
        assert path.is_absolute() and any(PurePosixPath(path).is_relative_to(v) for v in volumes), path


def compose_bot() -> str:
    """The bot service's lines of compose.yaml (plain text: PyYAML is not a dependency)."""
    text = (ROOT / "compose.yaml").read_text()
    block = re.search(r"^  bot:\n((?:    .*\n|\s*\n)+)", text, flags=re.MULTILINE)
    assert block, "compose.yaml has no services.bot"
    return block.group(1)


def test_compose_runs_the_image_with_the_same_volume_port_and_health_check() -> None:
    bot, env = compose_bot(), image_env()
    assert re.search(r"^    build: \.$", bot, re.MULTILINE)
    assert re.search(r"^    env_file: \.env$", bot, re.MULTILINE)
    assert re.search(r"^    restart: (always|unless-stopped|on-failure)$", bot, re.MULTILINE)
    for name in ("DATABASE_PATH", "BACKUP_DIR", "WEB_HOST", "WEB_PORT"):  # .env must not move them out of /data
        assert re.search(rf"^      {name}: \"?{re.escape(env[name])}\"?$", bot, re.MULTILINE), name
    (volume,) = json.loads(args_of("VOLUME")[0])
    assert re.search(rf"^      - \w+:{volume}$", bot, re.MULTILINE)
    assert f':{env["WEB_PORT"]}"' in bot and f"127.0.0.1:{env['WEB_PORT']}/healthz" in bot
    grace = re.search(r"^    stop_grace_period: (\d+)s$", bot, re.MULTILINE)
    assert grace and int(grace.group(1)) > GRACE_DEFAULT


def test_compose_offers_a_self_hosted_bot_api_server_commented_out() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert re.search(r"^  #   image: aiogram/telegram-bot-api", text, re.MULTILINE)
    assert not re.search(r"^\s+image: aiogram/telegram-bot-api", text, re.MULTILINE)
    assert "TELEGRAM_API_URL: http://telegram-bot-api:8081" in text


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((ROOT / "deploy" / "smsbot.service").read_text())
    return parser


def test_the_systemd_unit_runs_the_bot_and_outwaits_its_graceful_stop() -> None:
    service = unit()["Service"]
    workdir = PurePosixPath(service["WorkingDirectory"])
    command = shlex.split(service["ExecStart"])
    assert workdir.is_absolute() and command[1:] == ["-m", "bot"]
    assert PurePosixPath(command[0]).is_relative_to(workdir)  # the venv `make install` creates there
    assert service["Restart"] in ("on-failure", "always")
    with pytest.raises(SystemExit) as exit_status:
        main(["no-such-command"])  # a start-up error: restarting would not fix it
    assert service["RestartPreventExitStatus"] == str(exit_status.value.code)
    assert service["KillSignal"] in ("SIGTERM", "SIGINT")
    assert int(service["TimeoutStopSec"]) > GRACE_DEFAULT
    defaults = Settings(_env_file=None, bot_token="1:x")
    writable = [PurePosixPath(p) for p in service["ReadWritePaths"].split()]
    for path in (defaults.database_path, defaults.backup_dir):  # relative: under the working directory
        assert any((workdir / path).is_relative_to(w) for w in writable), path


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    text = (ROOT / "deploy" / "smsbot.service").read_text()
    python = shlex.split(unit()["Service"]["ExecStart"])[0]
    (tmp_path / "smsbot.service").write_text(text.replace(python, sys.executable))  # no venv in /opt here
    result = subprocess.run([analyze, "verify", str(tmp_path / "smsbot.service")], capture_output=True, text=True)
    assert result.returncode == 0 and "smsbot.service" not in result.stderr, result.stderr


def test_the_readme_documents_every_setting_and_how_to_deploy() -> None:
    readme = (ROOT / "README.md").read_text()
    configuration = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", configuration))
    upstreams = re.search(r"`<NAME>_API_KEY`, `<NAME>_BASE_URL` \|[^|]*\|[^|]*: (.*) \|", configuration)
    for field in Settings.model_fields:
        pair = re.fullmatch(r"(\w+)_(API_KEY|BASE_URL)", field.upper())
        assert field.upper() in named or (pair and upstreams and f"`{pair.group(1)}`" in upstreams.group(1)), field
    deploying = readme.split("\n## Deploying\n", 1)[1].split("\n## ", 1)[0]
    topics = "docker compose up|deploy/smsbot.service|deploy/nginx.conf|/healthz|/readyz|/metrics|LOG_FORMAT=json"
    for needed in [*topics.split("|"), "python -m bot backup", "python -m bot restore", "python -m bot check"]:
        assert needed in deploying, needed
