"""aiogram's ``Response[T]`` classes, built once at start-up and kept for the process's lifetime.

aiogram's ``check_response`` looks up ``Response[method.__returning__]`` for every Bot API call. Pydantic
caches parametrized generic models only weakly, so between garbage collections the class is dropped and
built again (milliseconds of CPU per call on the update path). :func:`keep_response_types` builds the class
of every method aiogram has and holds a reference, so each lookup is a cache hit.
"""

from __future__ import annotations

import logging
from typing import Any

import aiogram.methods
from aiogram.methods.base import Response, TelegramMethod

logger = logging.getLogger(__name__)

#: ``Response[T]`` by the method class it answers; never emptied, so pydantic's weak cache keeps them
_kept: dict[type[TelegramMethod[Any]], type[Response[Any]]] = {}


def _methods() -> list[type[TelegramMethod[Any]]]:
    found = (getattr(aiogram.methods, name) for name in aiogram.methods.__all__)
    return [m for m in found if isinstance(m, type) and issubclass(m, TelegramMethod) and m is not TelegramMethod]


def keep_response_types() -> dict[type[TelegramMethod[Any]], type[Response[Any]]]:
    """Build (once per process) and keep ``Response[T]`` for every aiogram method; returns what is kept."""
    if not _kept:
        for method in _methods():
            _kept[method] = Response[method.__returning__]  # type: ignore[name-defined]
        logger.debug("%d Bot API response types kept", len(_kept))
    return _kept
