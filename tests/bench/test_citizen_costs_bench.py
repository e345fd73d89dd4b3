"""Smoke test of the citizens' cost benchmark: tiny numbers, the real Application."""

from __future__ import annotations

import json
from pathlib import Path

from bench.citizen_costs import (
    APPROVE,
    BACKGROUND,
    CITIZEN_PRESS,
    CITIZEN_START,
    QUICK_LOG,
    main,
    render,
    run,
)


async def test_every_kind_of_update_is_metered_and_every_rating_stored(
    database_url: str,
) -> None:
    report = await run(database_url, staff=250, citizens=7)
    costs = report.costs
    assert report.stored == 7
    # Seven citizens, each a /start and a press; a quick log every sixth, a press every 30th.
    assert (costs[CITIZEN_START].updates, costs[CITIZEN_PRESS].updates) == (7, 7)
    assert (costs[QUICK_LOG].updates, costs[APPROVE].updates) == (2, 1)
    # Each citizen's /start reads who they rate and claims the update; nothing more.
    assert sum(costs[CITIZEN_START].statements.values()) == 3 * 7
    assert costs[CITIZEN_PRESS].statements["INSERT INTO citizen_ratings"] == 7
    assert costs[CITIZEN_PRESS].commits == 7
    # The inbox stores every update apart from the handlers' statements.
    assert costs[BACKGROUND].updates == 0 and costs[BACKGROUND].statements["INSERT INTO inbox"]
    for kind in (CITIZEN_START, CITIZEN_PRESS, QUICK_LOG, APPROVE):
        assert costs[kind].cpu_seconds > 0 and costs[kind].wall_seconds > 0
    text = render(report)
    assert "citizen press (7):" in text and "7 ratings stored" in text


def test_the_command_line_writes_the_figures_as_json(tmp_path: Path) -> None:
    figures = tmp_path / "costs.json"
    assert main(["--citizens", "2", "--staff", "220", "--json", str(figures)]) == 0
    written = json.loads(figures.read_text(encoding="utf-8"))
    assert written["stored"] == 2
    assert written["costs"][CITIZEN_START]["updates"] == 2
