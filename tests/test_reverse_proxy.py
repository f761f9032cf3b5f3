"""Webhook mode behind nginx with deploy/nginx.conf: the real bot, a real nginx, the fake Bot API.

The site's TLS server is rendered for the loopback: its listen and ssl_* lines become one plain http
listener on a free port and proxy_pass points at the bot's WEB_PORT; every other line (the webhook
location, its proxy directives, the 404 for the rest) is used as written. nginx runs as a child process
with its own prefix, pid, logs and temp paths under tmp_path. The fake Bot API posts updates to nginx's
URL (the bot's WEBHOOK_URL) and the bot answers /start through it; a wrong or missing secret is 401.

nginx comes from Debian's packages (.ci/run installs nginx-light). Without it the test is skipped
locally, and fails under CI=true: CI must not pass without having run it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.settings import Settings
from tests.botproc import BotProcess
from tests.conftest import free_port
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "deploy" / "nginx.conf"
TOKEN = "123456:TEST-TOKEN"
SECRET = "proxy-test-secret_0123456789"
USER, STRANGER = 4242, 777


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if found is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("nginx is not installed: .ci/run installs it (apt-get install nginx-light)")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    return found


def tls_server() -> str:
    """The body of the site's server block that holds the certificate: the one Telegram reaches."""
    text = re.sub(r"#[^\n]*", "", SITE.read_text())
    for match in re.finditer(r"\bserver\s*\{", text):
        depth, start = 1, match.end()
        for end in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                break
        body = text[start:end]
        if "ssl_certificate" in body:
            return body
    raise AssertionError("deploy/nginx.conf has no server block with ssl_certificate")


def webhook_location(body: str) -> tuple[str, str]:
    """(path, upstream host:port) of the one location that proxies: the webhook."""
    found = re.findall(r"location\s+=\s+(\S+)\s*\{[^}]*?proxy_pass\s+http://([^/;\s]+);", body)
    assert len(found) == 1, found
    return found[0]


def render(prefix: Path, listen: int, bot_port: int) -> Path:
    """A whole nginx.conf for the test: the site's TLS server on plain http, everything under ``prefix``."""
    body = tls_server()
    _path, upstream = webhook_location(body)
    kept = [line for line in body.splitlines() if not re.match(r"\s*(listen|ssl_\w+|http2)\b", line)]
    server = f"listen 127.0.0.1:{listen};\n" + "\n".join(kept).replace(upstream, f"127.0.0.1:{bot_port}")
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"daemon off;\nmaster_process off;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log info;\n"
        "events { worker_connections 64; }\n"
        f"http {{\naccess_log {prefix}/access.log;\n"
        + "".join(f"{sub}_temp_path {prefix}/{sub};\n" for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"server {{\n{server}\n}}\n}}\n"
    )
    return conf


@pytest.fixture
async def nginx(tmp_path: Path) -> AsyncIterator[tuple[int, int, Path]]:
    """nginx in front of a port for the bot: (nginx's port, the bot's port, nginx's prefix)."""
    binary = nginx_binary()
    listen, bot_port, prefix = free_port(), free_port(), tmp_path / "nginx"
    while bot_port == listen:  # two closed sockets may get the same port
        bot_port = free_port()
    prefix.mkdir()
    conf = render(prefix, listen, bot_port)
    errors = str(prefix / "error.log")
    proc = await asyncio.create_subprocess_exec(
        binary, "-p", str(prefix), "-c", str(conf), "-e", errors, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        for _ in range(300):  # up to 30 s on a slow machine
            if proc.returncode is not None:
                pytest.fail(f"nginx stopped: {(prefix / 'error.log').read_text(errors='replace')[-2000:]}")
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", listen)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            pytest.fail("nginx did not listen within 30 s")
        yield listen, bot_port, prefix
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def status_of(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


def last_text(fake: FakeTelegram, user_id: int) -> str:
    messages = fake.messages_to(user_id)
    return messages[-1].get("text", "") if messages else ""


def test_the_proxy_forwards_to_where_the_bot_listens_by_default() -> None:
    path, upstream = webhook_location(tls_server())
    example = re.search(r"WEBHOOK_URL=(\S+)", SITE.read_text())
    assert example and urlsplit(example.group(1)).path == path
    settings = Settings(_env_file=None, bot_token="1:x", webhook_url=example.group(1), webhook_secret=SECRET)
    assert upstream == f"{settings.web_host}:{settings.listen_port}"


def test_the_whole_site_with_tls_is_valid_nginx(tmp_path: Path) -> None:
    binary, openssl = nginx_binary(), shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: no certificate to test the TLS server with")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bot.example.com"]
    subprocess.run([openssl, *request, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    site = re.sub(r"ssl_certificate \S+;", f"ssl_certificate {cert};", SITE.read_text())
    (tmp_path / "site.conf").write_text(re.sub(r"ssl_certificate_key \S+;", f"ssl_certificate_key {key};", site))
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{\ninclude {tmp_path}/site.conf;\n}}\n")
    result = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


async def test_webhook_behind_nginx_answers_start_and_refuses_a_wrong_secret(
    nginx: tuple[int, int, Path], tmp_path: Path
) -> None:
    listen, bot_port, prefix = nginx
    path, _upstream = webhook_location(tls_server())
    async with FakeTelegram(token=TOKEN, local=True) as fake:  # --local: nginx listens on plain http here
        bot = BotProcess(
            tmp_path / "run",
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=fake.url,
            DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
            DEMO_PROVIDER="on",
            WEBHOOK_URL=f"http://127.0.0.1:{listen}{path}",
            WEBHOOK_SECRET=SECRET,
            WEB_HOST="127.0.0.1",
            WEB_PORT=str(bot_port),
        )
        await bot.start()
        try:
            await fake.wait_for(lambda: fake.calls_of("setWebhook"), timeout=60)
            assert fake.calls_of("setWebhook")[-1].params["secret_token"] == SECRET
            fake.send_message(USER, "/start")  # posted by the fake Bot API to nginx, passed on to the bot
            await fake.wait_for(lambda: "Welcome" in last_text(fake, USER), timeout=60)
            assert re.search(rf'"POST {re.escape(path)} HTTP/1\.1" 200 ', (prefix / "access.log").read_text())

            stranger = fake.message_update(STRANGER, "/start")
            assert await fake.post_to_webhook(stranger, secret="wrong-secret") == 401
            assert await fake.post_to_webhook(stranger, secret=None) == 401
            answered = len(fake.messages_to(USER))
            fake.send_message(USER, "/help")  # handled after the refused ones: they had their chance
            await fake.wait_for(lambda: len(fake.messages_to(USER)) > answered, timeout=60)
            assert fake.messages_to(STRANGER) == []
            # only the webhook is public: health and metrics answer on the bot's own port, 404 through nginx
            assert await status_of(f"http://127.0.0.1:{listen}/healthz") == 404
            assert await status_of(f"http://127.0.0.1:{listen}/metrics") == 404
            assert await status_of(f"http://127.0.0.1:{bot_port}/healthz") == 200
        finally:
            await bot.stop()
            for log in (prefix / "error.log", prefix / "access.log"):  # shown by pytest if the test failed
                print(log.name, log.read_text(errors="replace")[-2000:] if log.exists() else "none", sep="\n")
            print("bot.log", bot.output()[-4000:], sep="\n")
    output = bot.output()
    assert "Traceback" not in output, output[-3000:]
    assert TOKEN not in output and SECRET not in output
