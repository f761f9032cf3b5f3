"""A large ``getActiveActivations`` answer (thousands of activations) is read member by member in a worker thread,
decoded once: the same Statuses and the same errors as a small one, and exactly what ``json.loads`` would give."""

from __future__ import annotations

import random
import threading
from decimal import Decimal

import pytest

from providers import errors, parsing
from providers.base import Sms, Status, UpstreamState
from providers.smsactivate import large_json
from providers.smsactivate.client import SmsActivateProvider
from tests.adapter_fixtures import adapter_fixtures
from tests.fakes.smsactivate import FakeActivation, FakeSmsActivate
from tests.fakes.upstream import dumps

KEY = "f00dKEY_0123456789abcdef"
BASE = "https://sms.example/stubs/handler_api.php"
MANY = 600  # activations: an answer well over large_json.LARGE

fake, provider = adapter_fixtures(FakeSmsActivate, SmsActivateProvider, KEY, BASE)


def _sell(fake: FakeSmsActivate, n: int) -> list[str]:
    ids = [str(5_000_000 + i) for i in range(n)]
    for i, upstream_id in enumerate(ids):
        fake.activations[upstream_id] = FakeActivation(upstream_id, f"1555{i:07d}", "wa", 187, Decimal("0.35"))
    return ids


def _body() -> str:
    """A reply of every JSON kind at every depth, over ``LARGE``: nested lists and maps, numbers with fractions,
    escapes, a repeated key."""
    rows = [
        {"activationId": str(i), "activationCost": Decimal("0.35"), "smsCode": ["1", 2] if i % 7 else None,
         "text": 'ü "quoted" \\ \n', "deep": [1, {"a": [Decimal("2.50"), True, None]}], "empty": {}}
        for i in range(MANY)
    ]  # fmt: skip
    return " \n" + dumps({"status": "x", "activeActivations": rows, "n": Decimal("-1.5e3"), "status ": 1}) + "\n "


async def test_a_large_answer_reads_as_a_small_one(provider: SmsActivateProvider, fake: FakeSmsActivate) -> None:
    ids = _sell(fake, MANY)
    fake.deliver_code(ids[3], "123456")
    fake.activations[ids[5]].state = "cancel"  # not listed by the fake any more
    listed = await provider.active()
    assert len(listed) == MANY - 1 and ids[5] not in listed
    assert listed[ids[3]] == Status(UpstreamState.RECEIVED, (Sms("Code: 123456", "123456"),))
    assert listed[ids[3]] == await provider.check(ids[3])
    assert all(listed[i] == Status(UpstreamState.WAITING) for i in ids if i not in (ids[3], ids[5]))


async def test_a_large_answer_is_decoded_once_off_the_event_loop(
    provider: SmsActivateProvider, fake: FakeSmsActivate, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sell(fake, MANY)
    decodes: list[tuple[int, int]] = []  # (characters, thread)
    real = large_json.loads

    def counted(text: str) -> object:
        decodes.append((len(text), threading.get_ident()))
        return real(text)

    monkeypatch.setattr(large_json, "loads", counted)
    assert len(await provider.active()) == MANY
    assert len(decodes) == 1  # its error words and its list read from one decode
    size, thread = decodes[0]
    assert size >= large_json.LARGE and thread != threading.get_ident()


async def test_a_large_error_reply_keeps_the_usual_mapping(
    provider: SmsActivateProvider, fake: FakeSmsActivate
) -> None:
    fake.reply_next(dumps({"status": "error", "message": "BAD_KEY", "padding": ["x" * 100] * MANY}))
    with pytest.raises(errors.Unauthorized):
        await provider.active()
    fake.reply_next(dumps({"status": "success", "activeActivations": "none", "padding": ["x" * 100] * MANY}))
    with pytest.raises(errors.BadResponse):
        await provider.active()


def test_member_by_member_is_json_loads() -> None:
    text = _body()
    assert len(text) > large_json.LARGE
    body = large_json.loads(text)
    assert body == parsing.loads(text)
    assert isinstance(body, dict) and list(body) == list(parsing.loads(text))  # type: ignore[arg-type]


def test_broken_json_reads_as_json_loads_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeded damage anywhere in a reply (or none): member by member gives what json.loads gives, None included."""
    monkeypatch.setattr(large_json, "LARGE", 0)  # every reply member by member
    rng, text = random.Random(11), _body()[:3000]
    samples = ["", " ", "{}", " [ ] ", "[1,]", "{,}", '{"a":1,}', '{"a" 1}', "[1] x", '"x"', "12", "\ufeff{}"]
    for _ in range(500):
        damaged = list(text)
        for _ in range(rng.randint(0, 3)):
            damaged[rng.randrange(len(damaged))] = rng.choice(' ,:[]{}"0a\\\n')
        samples.append("".join(damaged))
    for sample in samples:
        assert large_json.loads(sample) == parsing.loads(sample), sample
