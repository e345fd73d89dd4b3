"""No full collections while big jobs run; the thresholds back after the last one."""

from __future__ import annotations

import gc

import pytest

from assessment import collector


def test_young_collections_go_on_and_full_ones_wait_during_a_job() -> None:
    before = gc.get_threshold()
    with collector.full_passes_held():
        youngest, middle, oldest = gc.get_threshold()
        assert (youngest, middle) == before[:2], "young garbage is still collected"
        assert oldest > 10**9, "no automatic full pass"
        assert gc.isenabled()
        assert collector.holders() == 1
    assert gc.get_threshold() == before
    assert collector.holders() == 0


def test_overlapping_jobs_hold_full_passes_until_the_last_ends() -> None:
    before = gc.get_threshold()
    first = collector.full_passes_held()
    second = collector.full_passes_held()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() != before, "the second job still runs"
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_a_job_that_fails_still_gives_the_thresholds_back() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), collector.full_passes_held():
        raise RuntimeError("the import failed")
    assert gc.get_threshold() == before
    assert collector.holders() == 0
