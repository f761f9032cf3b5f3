"""Issue #9, the long run: random updates of every type through the real dispatcher (``tests/fuzz_updates.py``).

``BENCH_FUZZ_UPDATES`` updates (default 100,000; ``make test`` runs 10,000) with seed ``BENCH_FUZZ_SEED``
(default 1), the scheduled jobs run every 150 steps, then the audit, the ledger and the payments. Prints the
rate every 10,000 updates, then updates/s and the error count; each distinct error with its reproduction. The
process exits with status 1 when anything is wrong, so run it last.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.common import report
from tests.fuzz_updates import FuzzReport, fuzz_bot, run_fuzz

UPDATES = int(os.environ.get("BENCH_FUZZ_UPDATES", "100000"))
SEED = int(os.environ.get("BENCH_FUZZ_SEED", "1"))


def _progress(run: FuzzReport) -> None:
    print(f"  fuzz: {run.updates} updates, {run.rate:.0f} updates/s, {len(run.failures)} errors", flush=True)


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as tmp:
        async with fuzz_bot(Path(tmp)) as harness:
            run = await run_fuzz(harness, UPDATES, SEED, progress=_progress, progress_every=10_000)
    problems = run.problems()
    report(
        "fuzz",
        updates=run.updates,
        seed=SEED,
        seconds=round(run.seconds, 1),
        updates_per_s=round(run.rate),
        errors=len(run.failures),
        distinct=len(run.distinct()),
        audit="ok" if not run.audit_issues else len(run.audit_issues),
        problems=len(problems),
    )
    print(run.summary(), flush=True)
    if problems:
        print(run.details(), flush=True)
        raise SystemExit(1)
