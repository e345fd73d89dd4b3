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
