"""Callback data: packed and parsed in one module, refused when forged or foreign."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import ClassVar

import pytest

from assessment.access import MEMBERS, Requirement
from handlers import callbacks
from handlers.callbacks import MAX_BYTES, CallbackData, NoticeToggle, SetLanguage, parse


def test_round_trip_through_the_one_parser() -> None:
    action = NoticeToggle(123456789, "law_enforcement")
    assert parse(action.pack()) == action
    assert NoticeToggle.from_press(action.pack()) == action


@pytest.mark.parametrize("data", [None, "", "zz:1", "lg:klingon", "nat:x:y", "lg", "lg:en:extra"])
def test_forged_or_malformed_data_parses_to_nothing(data: str | None) -> None:
    assert parse(data) is None


def test_a_press_of_another_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="not a SetLanguage press"):
        SetLanguage.from_press(NoticeToggle(1, "service").pack())


def _kinds(base: type[CallbackData] = CallbackData) -> Iterator[type[CallbackData]]:
    # Every kind of press declared in handlers/callbacks.py, found by walking the classes
    # rather than read from the registry, which keeps only one class per prefix.
    for kind in base.__subclasses__():
        if kind.__module__ == callbacks.__name__:
            yield kind
        yield from _kinds(kind)


def test_every_kind_of_press_has_a_prefix_of_its_own() -> None:
    kinds = list(_kinds())
    by_prefix: dict[str, list[str]] = {}
    for kind in kinds:
        by_prefix.setdefault(kind.prefix, []).append(kind.__name__)
    assert {prefix: names for prefix, names in by_prefix.items() if len(names) > 1} == {}
    assert len(kinds) > 20, "the walk found the kinds"
    # parse() finds each kind by its prefix, and only those declared here.
    assert CallbackData.registry == {kind.prefix: kind for kind in kinds}
    assert all(":" not in kind.prefix for kind in kinds)


def test_a_kind_that_takes_a_used_prefix_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CallbackData, "registry", dict(CallbackData.registry))
    with pytest.raises(TypeError, match="'lg' used twice"):

        @dataclasses.dataclass(frozen=True)
        class Impostor(CallbackData):
            prefix: ClassVar[str] = "lg"
            requires: ClassVar[Requirement] = MEMBERS

    assert CallbackData.registry["lg"] is SetLanguage


def test_every_action_fits_telegrams_limit() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        NoticeToggle(1, "x" * MAX_BYTES).pack()


BIG = str(2**63)


@pytest.mark.parametrize(
    "data",
    [
        # Ids and versions past the store's integers, zero, negative, or not as the bot writes.
        f"ap:{BIG}:1:r",
        f"ap:1:{BIG}:a",
        f"ap:{2**31}:1:a",
        "ap:0:1:a",
        "ap:-1:1:a",
        "ap:+1:1:a",
        "ap: 1:1:a",
        "ap:01:1:a",
        "ap:1_0:1:a",
        "ap:١:1:a",
        f"eo:{BIG}",
        "eo:0",
        f"ea:{BIG}:delete",
        f"ack:{BIG}",
        f"nds:{BIG}",
        f"nrm:{2**31}",
        f"nex:{BIG}:csv",
        f"nde:{BIG}:send",
        f"nak:{BIG}:everyone",
        f"nat:{BIG}:x",
        f"nop:{BIG}:done",
        f"ivd:{BIG}",
        f"ru:{BIG}:apply",
        # Approve all: ids, the author and the time within range, the range in order.
        f"as:{BIG}:{BIG}:1800000000:0",
        f"as:1:2:{BIG}:0",
        "as:1:2:0:0",
        "as:1:2:1:0",
        f"as:1:2:{2**62}:0",
        f"as:1:2:1800000000:{BIG}",
        "as:1:2:1800000000:-1",
        "as:2:1:1800000000:0",
        # Pages within a sane bound.
        f"pp:{BIG}",
        "pp:10001",
        "pp:-1",
        f"mp:2026-11:{BIG}",
        f"dp:2026-11-23:{BIG}",
        # Days and months within range, written as the bot writes them.
        "mp:0001-01:0",
        "mp:9999-12:0",
        "mp:1999-12:0",
        "mp:2026-13:0",
        "dp:0001-01-01:0",
        "dp:9999-12-31:0",
        "dp:20261123:0",
        "dp:2026-W47-1:0",
        "rmd:0001-01-01:log",
        "rmd:2101-01-01:snooze",
        "rmd:20261120:leave",
    ],
)
def test_values_out_of_range_parse_to_nothing(data: str) -> None:
    assert parse(data) is None


@pytest.mark.parametrize(
    "data",
    [
        f"ap:{2**31 - 1}:{2**31 - 1}:j",
        "ap:1:1:a",
        "eo:1",
        "as:1:1:946684800:0",
        f"as:1:{2**31 - 1}:{callbacks.LAST_STAMP}:{2**31 - 1}",
        "pp:0",
        "pp:10000",
        "mp:2000-01:0",
        "mp:2100-12:10000",
        "dp:2100-12-31:0",
        "rmd:2000-01-01:log",
    ],
)
def test_values_at_the_edges_of_range_are_read(data: str) -> None:
    action = parse(data)
    assert action is not None
    assert action.pack() == data
