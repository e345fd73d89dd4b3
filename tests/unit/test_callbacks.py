"""Callback data: packed and parsed in one module, refused when forged or foreign."""

from __future__ import annotations

import pytest

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


def test_every_action_fits_telegrams_limit_and_prefixes_are_unique() -> None:
    assert len(set(CallbackData.registry)) == len(CallbackData.registry)
    with pytest.raises(ValueError, match="64 bytes"):
        NoticeToggle(1, "x" * MAX_BYTES).pack()
