"""(issue 13: filled in by its feature; an empty router until then)"""

from __future__ import annotations

from aiogram import Router

router = Router(name=__name__)
