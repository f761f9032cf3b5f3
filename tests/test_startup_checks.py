"""Start-up checks: a bad setting or an unusable database is one line naming it and exit status 2,
never a traceback, never a hang."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botproc import ROOT

TOKEN = "123456:TEST-TOKEN"
NOBODY = 65534


def start_bot(workdir: Path, user: int | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot`` with only ``env`` (and no .env), to its exit; a hang fails the test."""
    workdir.mkdir(parents=True, exist_ok=True)
    full = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "BOT_TOKEN": TOKEN, **env}
    full.setdefault("TELEGRAM_API_URL", "http://127.0.0.1:9")  # never reached: every case here stops before
    full.setdefault("DATABASE_PATH", str(workdir / "bot.sqlite3"))
    command = [sys.executable, "-m", "bot"]
    if user is not None:  # (subprocess's own user= cannot exec this interpreter here; setpriv can)
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    try:
        return subprocess.run(command, cwd=workdir, env=full, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the bot hung instead of exiting; it wrote: {exc.stderr!r}") from None


def assert_one_line(result: subprocess.CompletedProcess[str], setting: str, *words: str) -> str:
    """Exit status 2 and one line naming ``setting``, the last; before it, at most the log of a start
    that got that far (INFO lines), never a traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    log = [line for line in lines[:-1] if re.match(r"\d{4}-\d\d-\d\d [\d:,]+ INFO ", line)]
    assert len(lines) == len(log) + 1 and lines[-1].startswith(setting), lines
    lines = lines[-1:]
    for word in words:
        assert word in lines[0], lines[0]
    assert TOKEN not in result.stderr + result.stdout
    return lines[0]


@pytest.mark.parametrize(
    ("env", "setting", "words"),
    [
        ({"CURRENCY": "XYZ"}, "CURRENCY", ("XYZ", "USD_RATES")),
        ({"CURRENCY": "XYZ", "DEFAULT_PRICE": "1.00"}, "CURRENCY", ("XYZ",)),  # even with a price for unpriced offers
        ({"SMSACTIVATE_UPSTREAMS": "not json"}, "SMSACTIVATE_UPSTREAMS", ("JSON",)),
        (
            {"SMSACTIVATE_UPSTREAMS": '[{"name": "bower", "base_url": "ftp://x", "api_key": "k"}]'},
            "SMSACTIVATE_UPSTREAMS",
            ("base_url",),
        ),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL", ()),
        ({"TELEGRAM_API_URL": "http://"}, "TELEGRAM_API_URL", ("host",)),
        ({"DATABASE_PATH": ""}, "DATABASE_PATH", ()),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(
    tmp_path: Path, env: dict[str, str], setting: str, words: tuple[str, ...]
) -> None:
    assert_one_line(start_bot(tmp_path, **env), setting, *words)


def test_a_file_that_is_not_sqlite_is_one_line_not_a_hang(tmp_path: Path) -> None:
    database = tmp_path / "notes.txt"
    database.write_text("these are my notes, not a database\n" * 100)
    line = assert_one_line(start_bot(tmp_path, DATABASE_PATH=str(database)), "DATABASE_PATH", "not an SQLite")
    assert str(database) in line
    assert database.read_text().startswith("these are my notes")  # left as it was


def test_a_folder_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    assert_one_line(start_bot(tmp_path, DATABASE_PATH=str(folder)), "DATABASE_PATH", "folder")


@pytest.mark.parametrize("path", ["/proc/bot.sqlite3", "/proc/self/nowhere/bot.sqlite3"])
def test_a_path_under_proc_is_one_line(tmp_path: Path, path: str) -> None:
    assert_one_line(start_bot(tmp_path, DATABASE_PATH=path), "DATABASE_PATH")


@pytest.fixture
def readonly_folder() -> Iterator[tuple[Path, int | None]]:
    """A folder (with a database from an earlier run) this test's bot may read but not write, and the
    user id to run the bot as: root writes anywhere, so root runs it as nobody."""
    user = NOBODY if os.geteuid() == 0 else None
    if user is not None and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: no way to be a user a read-only folder stops")
    top = Path(tempfile.mkdtemp(prefix="smsbot-ro-"))  # not under pytest's tmp: nobody must reach it
    try:
        top.chmod(0o755)
        folder = top / "data"
        folder.mkdir()
        conn = sqlite3.connect(folder / "bot.sqlite3")
        conn.execute("CREATE TABLE earlier (x)")
        conn.commit()
        conn.close()
        lock = folder / "bot.sqlite3.lock"
        lock.touch()
        lock.chmod(0o666)  # the lock can be taken: the database itself is what cannot be written
        (folder / "bot.sqlite3").chmod(0o444)
        folder.chmod(0o555)
        if user is None and os.access(folder, os.W_OK):
            pytest.skip("this user can write a read-only folder")
        yield folder, user
    finally:
        for path in (top, *top.rglob("*")):
            path.chmod(0o777)
        shutil.rmtree(top)


def test_a_read_only_database_is_one_line_not_a_hang(readonly_folder: tuple[Path, int | None]) -> None:
    folder, user = readonly_folder
    result = start_bot(folder.parent, user=user, DATABASE_PATH=str(folder / "bot.sqlite3"))
    assert_one_line(result, "DATABASE_PATH", str(folder / "bot.sqlite3"), "writable")
