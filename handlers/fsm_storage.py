"""Where the FSM keeps its states: aiogram's memory storage, bounded; or Redis, shared by replicas.

Memory (no REDIS_URL): :class:`BoundedMemoryStorage`, one process's, and no event isolation (aiogram's default).
Redis (:func:`redis_fsm`): aiogram's :class:`RedisStorage`, so a user's next tap may land on any replica
and find the form where the last one left it, with :class:`RedisEventIsolation`, so two updates of one
user never run at once, whichever replicas took them. Keys carry the bot's id (two bots on one Redis keep
apart), and a state or its data expires :data:`FSM_TTL` after it was last written: as memory forgets the
least recently used form past its bound, Redis forgets a form abandoned that long ago.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from copy import copy
from datetime import timedelta
from typing import Any

from aiogram import Dispatcher
from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage, MemoryStorageRecord
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

#: a form (state and data) untouched this long is forgotten in Redis
FSM_TTL = timedelta(days=1)
#: seconds a user's update holds the Redis isolation lock at most: a replica that dies holding it frees
#: the user after this, and no update takes longer (handlers wait on no upstream that long)
LOCK_SECONDS = 60


def fsm_parts(redis_url: str | None) -> tuple[BaseStorage, BaseEventIsolation | None]:
    """The Dispatcher's FSM storage and event isolation: Redis when REDIS_URL is set (a user's taps may
    land on any replica), else the bounded memory storage and aiogram's default isolation."""
    if redis_url is None:
        return BoundedMemoryStorage(), None
    return redis_fsm(redis_url)


def close_fsm_last(dp: Dispatcher) -> None:
    """aiogram's Dispatcher registers its FSM's close (the Redis pool) as its first shutdown handler: move it
    after the shop's own, whose drain lets the updates under way finish and release their Redis lock."""
    handlers = dp.shutdown.handlers
    fsm = [handler for handler in handlers if handler.callback == dp.fsm.close]
    dp.shutdown.handlers = [handler for handler in handlers if handler not in fsm] + fsm


def redis_fsm(url: str) -> tuple[RedisStorage, RedisEventIsolation]:
    """FSM storage and event isolation on the Redis at ``url``, sharing one connection pool (closed with
    the storage, which the Dispatcher does at shutdown). Connects lazily: nothing is asked here."""
    storage = RedisStorage.from_url(
        url,
        key_builder=DefaultKeyBuilder(prefix="smsbot", with_bot_id=True),
        state_ttl=FSM_TTL,
        data_ttl=FSM_TTL,
    )
    return storage, storage.create_isolation(lock_kwargs={"timeout": LOCK_SECONDS})


class BoundedMemoryStorage(MemoryStorage):
    """aiogram's memory FSM storage, bounded: a chat holds a record only while it has a state or data.

    aiogram's :class:`MemoryStorage` keeps its records in a ``defaultdict``: the FSM middleware asks every
    update's chat for its state, and that alone creates a record that is kept for ever, one per chat that
    ever wrote. Here a read creates nothing, a record whose state is cleared and whose data is empty is
    dropped, and at most ``max_records`` are kept, the least recently used dropped first (a form left
    half-filled that long ago is forgotten, as a restart would).
    """

    def __init__(self, max_records: int = 10_000) -> None:
        super().__init__()
        self.storage: OrderedDict[StorageKey, MemoryStorageRecord] = OrderedDict()  # type: ignore[assignment]
        self.max_records = max_records

    def _used(self, key: StorageKey) -> MemoryStorageRecord | None:
        """The chat's record, now the most recently used; None when it has none (and none is made)."""
        record = self.storage.get(key)
        if record is not None:
            self.storage.move_to_end(key)
        return record

    def _store(self, key: StorageKey, record: MemoryStorageRecord) -> None:
        """Keep ``record`` if it holds anything, within the bound; else forget the chat."""
        if record.state is None and not record.data:
            self.storage.pop(key, None)
            return
        self.storage[key] = record
        self.storage.move_to_end(key)
        while len(self.storage) > self.max_records:
            self.storage.popitem(last=False)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        record = self.storage.get(key) or MemoryStorageRecord()
        record.state = state.state if isinstance(state, State) else state
        self._store(key, record)

    async def get_state(self, key: StorageKey) -> str | None:
        record = self._used(key)
        return record.state if record is not None else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            raise DataNotDictLikeError(f"Data must be a dict or dict-like object, got {type(data).__name__}")
        record = self.storage.get(key) or MemoryStorageRecord()
        record.data = data.copy()
        self._store(key, record)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        record = self._used(key)
        return record.data.copy() if record is not None else {}

    async def get_value(self, storage_key: StorageKey, dict_key: str, default: Any | None = None) -> Any | None:
        record = self._used(storage_key)
        return copy((record.data if record is not None else {}).get(dict_key, default))
