"""End to end: one user's flood does not slow the others down (the real bot process and polling loop)."""

from __future__ import annotations

from tests import test_e2e as e2e
from tests.fakes.telegram import FakeTelegram
from tests.test_e2e import StartBot

fake = e2e.fake  # the shared fixtures: a fake Bot API and the bot process
start_bot = e2e.start_bot

FLOODER, OTHER = 1111, 2222
FLOOD = 500


async def start_answered_in(fake: FakeTelegram, user_id: int) -> float:
    """Seconds from the bot receiving ``user_id``'s /start (getUpdates handing it out) to its answer."""
    fake.send_message(user_id, "/start")
    update_id = fake.last_update_id
    await fake.wait_for(lambda: fake.messages_to(user_id), timeout=60)
    answer = next(
        i for i, call in enumerate(fake.calls) if call.method == "sendMessage" and call.params["chat_id"] == user_id
    )
    return fake.call_times[answer] - fake.served_at[update_id]


async def test_a_flood_from_one_user_does_not_slow_another(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot(USER_UPDATES_PER_SECOND="3", USER_UPDATES_BURST="10")  # the defaults
    alone = [await start_answered_in(fake, OTHER + n) for n in range(1, 6)]
    for n in range(FLOOD):
        fake.send_message(FLOODER, f"spam {n}")
    during = await start_answered_in(fake, OTHER)
    # relative to the same answer with no flood, so that a loaded machine slows both: with flood control
    # it takes 1-4 times as long (the bot still parses the flood), without it the other user waits for
    # the flooder's 500 database writes and replies, a hundred times as long and more
    assert during <= 20 * max(alone), (during, alone)

    await fake.wait_for(lambda: len(fake.served_at) >= FLOOD + 6, timeout=60)  # the whole flood reached the bot
    to_flooder = [m["text"] for m in fake.messages_to(FLOODER)]
    assert sum("Too fast" in text for text in to_flooder) == 1  # told once
    assert len(to_flooder) <= 15  # the burst answered, the rest dropped
    other_answer = next(
        i for i, c in enumerate(fake.calls) if c.method == "sendMessage" and c.params["chat_id"] == OTHER
    )
    before_other = [c for c in fake.calls[:other_answer] if c.params.get("chat_id") == FLOODER]
    assert len(before_other) <= 15
