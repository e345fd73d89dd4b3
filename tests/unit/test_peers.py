"""Peer ratings: who may rate whom (one rule), the rule's draw, the policy's [peers], and
anonymity: no peer average below ``min_raters``, and nothing that moves by one peer."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from assessment.peers import PeerRefusal, draw, in_chain, peer_indicators, refusal_for
from assessment.period_scoring import breakdown_facts, policy_fingerprint
from assessment.results import explain
from assessment.scoring import PeriodFacts, RatingFacts, Scorer
from config.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy
from handlers.formatting import MAX_TEXT
from handlers.scores import result_text
from locales import SUPPORTED, translator
from storage.repositories.peers import RosterPerson
from storage.repositories.results import PublishedScore

POLICY = load_policy()
MIN = POLICY.peers.min_raters

# A chain: 1 heads 2, who heads 3, who heads 4; 5 is 2's other report; 6 stands alone.
SUPERVISORS: dict[int, int | None] = {1: None, 2: 1, 3: 2, 4: 3, 5: 2, 6: None}


@pytest.mark.parametrize(
    ("rater", "person", "barred"),
    [
        (3, 3, True),  # oneself
        (2, 3, True),  # one's supervisor rating oneself: up
        (1, 4, True),  # three levels up
        (4, 1, True),  # down: rating one's own supervisor's supervisor's supervisor
        (3, 2, True),  # rating one's own supervisor
        (5, 3, False),  # a report of the same supervisor: not in each other's chain
        (6, 3, False),
        (3, 6, False),
    ],
)
def test_nobody_rates_themself_or_their_own_supervisor_chain(
    rater: int, person: int, barred: bool
) -> None:
    assert in_chain(rater, person, SUPERVISORS) is barred


def test_a_loop_in_the_roster_does_not_hang_the_chain() -> None:
    looped: dict[int, int | None] = {1: 2, 2: 1, 3: None}
    assert in_chain(1, 2, looped) and in_chain(2, 1, looped)
    assert not in_chain(3, 1, looped)


def _person(
    staff_id: int, department: int, *, post_type: str | None = "management", linked: bool = True
) -> RosterPerson:
    return RosterPerson(staff_id, department, SUPERVISORS.get(staff_id), post_type, linked)


def test_who_may_be_asked_one_rule() -> None:
    person = _person(3, 10)
    assert refusal_for(_person(6, 20), person, SUPERVISORS, POLICY) is None
    assert refusal_for(_person(2, 20), person, SUPERVISORS, POLICY) is PeerRefusal.CHAIN
    assert refusal_for(_person(4, 20), person, SUPERVISORS, POLICY) is PeerRefusal.CHAIN
    assert refusal_for(person, person, SUPERVISORS, POLICY) is PeerRefusal.CHAIN
    same = refusal_for(_person(5, 10), person, SUPERVISORS, POLICY)
    assert same is PeerRefusal.SAME_DEPARTMENT
    unlinked = refusal_for(_person(6, 20, linked=False), person, SUPERVISORS, POLICY)
    assert unlinked is PeerRefusal.NOT_LINKED
    # Service's one rated indicator is citizen satisfaction, which peers rate too (the
    # post type weighs them); someone without a post has nothing peers rate.
    assert [i.id for i in peer_indicators(POLICY, "service")] == ["citizen_satisfaction"]
    no_post = _person(3, 10, post_type=None)
    assert refusal_for(_person(6, 20), no_post, SUPERVISORS, POLICY) is PeerRefusal.NO_INDICATORS
    assert [i.id for i in peer_indicators(POLICY, "management")] == [
        "interdepartment_coordination",
        "risk_control",
    ]


def test_the_draw_spreads_over_departments_and_never_picks_the_chain() -> None:
    supervisors: dict[int, int | None] = {100: 101, 101: 200, 200: None}
    supervisors.update({n: None for n in range(300, 330)})
    person = RosterPerson(100, 1, 101, "management", True)
    roster = [
        person,
        RosterPerson(101, 1, 200, "management", True),  # own supervisor, own department
        RosterPerson(200, 2, None, "management", True),  # supervisor's supervisor, elsewhere
        *(RosterPerson(n, 3 + n % 3, None, "management", True) for n in range(300, 330)),
        RosterPerson(999, 4, None, "management", False),  # not linked
    ]
    chosen = draw(person, roster, supervisors, 3, POLICY, seed="2026-11")
    assert len(chosen) == len(set(chosen)) == 3
    assert not {100, 101, 200, 999} & set(chosen)
    assert {3 + n % 3 for n in chosen} == {3, 4, 5}, "one from each other department"
    assert draw(person, roster, supervisors, 3, POLICY, seed="2026-11") == chosen
    more = draw(person, roster, supervisors, 3, POLICY, seed="2026-11", taken=chosen)
    assert not set(more) & set(chosen)
    assert draw(person, roster[:3], supervisors, 3, POLICY, seed="2026-11") == []


# --- anonymity ---------------------------------------------------------------------------


def _facts(peers: list[int]) -> PeriodFacts:
    ratings = {
        ("interdepartment_coordination", "supervisor"): RatingFacts(4, 1),
        ("risk_control", "supervisor"): RatingFacts(3, 1),
    }
    if peers:
        ratings[("interdepartment_coordination", "peer")] = RatingFacts(sum(peers), len(peers))
    return PeriodFacts(7, 1, "management", ratings=ratings)


def _published(facts: PeriodFacts) -> tuple[PublishedScore, str]:
    score = Scorer(POLICY).score(facts)
    stored = json.loads(
        json.dumps(breakdown_facts(facts, score.value, policy_fingerprint(POLICY)))
    )
    result = PublishedScore(
        period_id=1,
        period_key="2026-11",
        starts_on=date(2026, 11, 1),
        score=score.value,
        grade_id="good",
        breakdown=stored,
        published_at=datetime(2026, 12, 9, tzinfo=UTC),
        read_at=None,
    )
    texts = [
        result_text(translator(locale), POLICY, result, explain(POLICY, 7, stored), room=MAX_TEXT)
        for locale in sorted(SUPPORTED)
    ]
    return result, "\n".join(texts)


@pytest.mark.parametrize("values", [[1], [5], [1, 1], [5, 5], [2, 5]])
def test_below_min_raters_the_peers_change_nothing_at_all(values: list[int]) -> None:
    assert len(values) < MIN
    scorer = Scorer(POLICY)
    none = scorer.score(_facts([]))
    some = scorer.score(_facts(values))
    assert some.value == none.value
    assert some.breakdown.indicators == none.breakdown.indicators
    assert some.breakdown.to_json() == none.breakdown.to_json()
    assert _published(_facts(values))[1] == _published(_facts([]))[1], "the notice too"


def test_the_peers_count_from_min_raters_on() -> None:
    scorer = Scorer(POLICY)
    two = scorer.score(_facts([5] * (MIN - 1)))
    three = scorer.score(_facts([5] * MIN))
    assert three.value > two.value == scorer.score(_facts([])).value
    [part] = [
        p for p in three.breakdown.indicators if p.indicator_id == "interdepartment_coordination"
    ]
    [peer] = [r for r in part.raters if r.rater == "peer"]
    assert peer.mean == 5 and peer.effective_weight is not None


@pytest.mark.parametrize("more", [1, 2, 7])
def test_one_more_peer_with_the_same_average_changes_nothing_shown(more: int) -> None:
    # Only the average is ever told: MIN peers rating 4 and MIN + more peers rating 4 give
    # the same score, breakdown, stored explanation and notice, in every language.
    scorer = Scorer(POLICY)
    at_threshold = scorer.score(_facts([4] * MIN))
    beyond = scorer.score(_facts([4] * (MIN + more)))
    assert beyond.value == at_threshold.value
    assert beyond.breakdown == at_threshold.breakdown
    assert beyond.breakdown.to_json() == at_threshold.breakdown.to_json()
    assert _published(_facts([4] * (MIN + more)))[1] == _published(_facts([4] * MIN))[1]


def test_no_peer_count_in_the_breakdown_or_the_notice() -> None:
    facts = _facts([3, 4, 5, 4])
    breakdown = Scorer(POLICY).score(facts).breakdown
    [part] = [p for p in breakdown.indicators if p.indicator_id == "interdepartment_coordination"]
    [peer] = [r for r in part.raters if r.rater == "peer"]
    assert peer.sample_size == 0
    assert part.sample_size == 1, "the supervisor's one rating; the peers' are not counted"
    [stored] = [p for p in breakdown.to_json()["indicators"] if p["id"] == part.indicator_id]
    assert [r["count"] for r in stored["raters"] if r["rater"] == "peer"] == [0]
    _, text = _published(facts)
    assert "peers 4" in text  # their average, 16 / 4
    assert "4 peers" not in text and "4 ratings" not in text


# --- the policy -----------------------------------------------------------------------------


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_the_presets_state_peers() -> None:
    assert (POLICY.peers.min_raters, POLICY.peers.drawn_raters) == (3, 0)


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        ("min_raters = 3", "min_raters = 1", "peers.min_raters", "must be at least 2"),
        ("min_raters = 3", "min_raters = 21", "peers.min_raters", "must be at most 20"),
        ("drawn_raters = 0", "drawn_raters = 2", "peers.drawn_raters", "must be 0 (HR assigns)"),
        ("drawn_raters = 0", "drawn_raters = -1", "peers.drawn_raters", "must be at least 0"),
        ("drawn_raters = 0", "drawn_raters = 0.5", "peers.drawn_raters", ""),
    ],
)
def test_a_broken_peers_section_names_its_key(
    tmp_path: Path, old: str, new: str, key: str, reason: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(_variant(tmp_path, old, new))
    assert f"{key}: {reason}" in str(caught.value)
    assert key in [issue.key for issue in caught.value.issues]


def test_drawing_at_least_min_raters_loads(tmp_path: Path) -> None:
    policy = load_policy(_variant(tmp_path, "drawn_raters = 0", "drawn_raters = 4"))
    assert policy.peers.drawn_raters == 4
