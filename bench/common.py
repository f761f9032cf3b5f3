"""Helpers shared by benchmarks: a median and a figure line that ends with the peak memory."""

from __future__ import annotations

import resource
import statistics


def peak_rss_mib() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(name: str, **figures: object) -> None:
    """Print ``name: key=value, ...`` and, last, this process's peak memory so far as ``peak_rss_mib``."""
    figures["peak_rss_mib"] = f"{peak_rss_mib():.0f}"
    print(f"{name}: " + ", ".join(f"{key}={value}" for key, value in figures.items()), flush=True)
