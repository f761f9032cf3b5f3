"""Helpers shared by benchmarks: peak memory and a figure line."""

from __future__ import annotations

import resource
import statistics


def peak_rss_mib() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(name: str, **figures: object) -> None:
    print(f"{name}: " + ", ".join(f"{key}={value}" for key, value in figures.items()), flush=True)
