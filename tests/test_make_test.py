"""`make test` runs both backends under CI, or fails: a green CI without a PostgreSQL server would be a lie.

The recipe runs with a stand-in python (it prints what it was asked to run), so this checks the Makefile's
decisions in a second, not the suite itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not shutil.which("make"), reason="needs make")


def make_test(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    stub = tmp_path / "python"
    stub.write_text('#!/bin/sh\necho "ran pytest $TEST_BACKEND"\n')
    stub.chmod(0o755)
    environ = {k: v for k, v in os.environ.items() if k not in ("CI", "TEST_DATABASE_URL", "TEST_BACKEND")}
    return subprocess.run(
        ["make", "-s", "--no-print-directory", "test", f"BIN={tmp_path}", "-o", "install", "-o", "test-postgres"],
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_under_ci_a_missing_server_fails_before_the_suite_runs(tmp_path: Path) -> None:
    run = make_test(tmp_path, CI="true")
    assert run.returncode != 0
    assert "ran pytest" not in run.stdout
    assert ".ci/services" in run.stderr and ".ci/run" in run.stderr


def test_outside_ci_the_postgres_pass_is_skipped_saying_so(tmp_path: Path) -> None:
    run = make_test(tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "ran pytest "
    assert "PostgreSQL pass skipped" in run.stdout
