"""One test per fixture, in the style of Zulip's webhook tests.

A desk keeps the calls its desk really makes in `<desk>/fixtures/*.json`
(bodies as the desk posts them). Next to each, `<name>.events.json` says what
the connector must read from it:

    [{"event": "AgentMessage", "text": "Hi, I'm Sam", "agent_name": "Sam"}]

a list of the events, in order, each with its class name and the fields that
matter (fields left out are not compared), or

    {"rejected": 400, "naming": "conversation_id"}

for a call the connector must refuse with that status, its reason naming
that field. An expectation may instead come from the test module
(`expectations=`: a dict by fixture name, or a function of the name), for
desks whose expected events depend on the test's state. A fixture with no
expectation fails its test, saying which file to write: none is silently
left untested.

    @pytest.mark.parametrize("case", fixture_cases(FIXTURES))
    async def test_fixture(case, connector):
        await case.check(connector, signed(case.body))
"""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import pytest

from ..core.contract import DeskEvent, WebhookRejected, WebhookReply, WebhookRequest

EXPECTED_SUFFIX = ".events.json"
Expectation = Union[list, dict]
Expectations = Union[Mapping[str, Expectation], Callable[[str], Optional[Expectation]]]


def event_dict(event: DeskEvent) -> dict[str, Any]:
    """An event as the expectation files write it: its class name, then its fields."""
    return {"event": type(event).__name__, **_plain(dataclasses.asdict(event))}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


def assert_events(events: list[DeskEvent], expected: list[dict[str, Any]], where: str = "") -> None:
    """Same count, same order, same class, and every field the expectation names equal."""
    found = [event_dict(event) for event in events]
    prefix = f"{where}: " if where else ""
    assert len(found) == len(expected), f"{prefix}expected {len(expected)} event(s), got {found}"
    for index, (got, wanted) in enumerate(zip(found, expected)):
        differing = {key: got.get(key, "<absent>") for key, value in wanted.items() if got.get(key, "<absent>") != value}
        assert not differing, f"{prefix}event {index}: expected {wanted}, got {got} (differing: {differing})"


@dataclass(frozen=True)
class FixtureCase:
    name: str
    path: Path
    expected: Optional[Expectation]

    @property
    def body(self) -> bytes:
        return self.path.read_bytes()

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def rejected(self) -> Optional[int]:
        """The status the connector must refuse this call with, when it must."""
        return self.expected.get("rejected") if isinstance(self.expected, dict) else None

    async def check(self, connector: Any, call: WebhookRequest) -> Optional[WebhookReply]:
        """Run `connector.parse_webhook(call)` and hold its outcome to this fixture's expectation."""
        if self.expected is None:
            pytest.fail(f"fixture {self.name} has no expectation: write {self.name}{EXPECTED_SUFFIX} beside it")
        if self.rejected is not None:
            with pytest.raises(WebhookRejected) as caught:
                await connector.parse_webhook(call)
            assert caught.value.status == self.rejected, f"{self.name}: refused with {caught.value.status}: {caught.value.reason}"
            naming = self.expected.get("naming")
            assert naming is None or naming in caught.value.reason, f"{self.name}: the reason {caught.value.reason!r} does not name {naming!r}"
            return None
        if not isinstance(self.expected, list):
            pytest.fail(f"fixture {self.name}: an expectation is a list of events or {{\"rejected\": status}}")
        reply = await connector.parse_webhook(call)
        assert_events(list(reply.events), self.expected, self.name)
        return reply


def fixture_name(path: Path) -> str:
    """`agent_reply.json` -> `agent_reply`; the name tests, ids and expectation files use."""
    return path.name[: -len(".json")] if path.name.endswith(".json") else path.stem


def _expectation(path: Path, expectations: Optional[Expectations]) -> Optional[Expectation]:
    name = fixture_name(path)
    if expectations is not None:
        given = expectations.get(name) if isinstance(expectations, Mapping) else expectations(name)
        if given is not None:
            return given
    sidecar = path.with_name(name + EXPECTED_SUFFIX)
    return json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else None


def fixture_cases(folder: Union[str, Path], expectations: Optional[Expectations] = None, pattern: str = "*.json") -> list:
    """One pytest param per fixture in `folder` (expectation files excluded), named after the fixture."""
    folder = Path(folder)
    paths = sorted(p for p in folder.glob(pattern) if not p.name.endswith(EXPECTED_SUFFIX))
    if not paths:
        raise FileNotFoundError(f"no fixtures matching {pattern} in {folder}")
    cases = []
    for path in paths:
        case = FixtureCase(fixture_name(path), path, _expectation(path, expectations))
        cases.append(pytest.param(case, id=case.name))
    return cases
