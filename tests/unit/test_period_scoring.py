"""The stored breakdown of a whole period's scores: JSON text written directly, read back."""

from __future__ import annotations

import json
from decimal import Decimal

from assessment.period_scoring import (
    breakdown_facts,
    breakdown_facts_json,
    breakdown_of,
    facts_from_breakdown,
    policy_fingerprint,
)
from assessment.scoring import PeriodFacts, PointsFact, QuantityFacts, RatingFacts, Scorer
from config.policy import load_policy

POLICY = load_policy()
IDS = frozenset(i.id for indicators in POLICY.indicators.values() for i in indicators)


def test_the_json_text_is_the_facts_and_rebuilds_the_exact_breakdown() -> None:
    facts = PeriodFacts(
        staff_id=7,
        department_id=3,
        post_type="law_enforcement",
        quantities={
            "case_closure_rate": QuantityFacts(Decimal("285.000"), 3),
            "cases_handled": QuantityFacts(Decimal("46"), 12),
        },
        ratings={
            ("enforcement_compliance", "supervisor"): RatingFacts(4, 1),
            ("enforcement_compliance", "service_recipient"): RatingFacts(7, 2),
        },
        points=(
            PointsFact(Decimal("3"), 'Night shifts, "storm" duty \\ 夜班'),
            PointsFact(Decimal("-2.5"), "迟报\n两次", disqualifying=True),
        ),
        misconduct=True,
    )
    scorer = Scorer(POLICY)
    value = scorer.score(facts).value
    fingerprint = policy_fingerprint(POLICY)
    text = breakdown_facts_json(facts, value, fingerprint, IDS)
    stored = json.loads(text)
    assert stored == json.loads(json.dumps(breakdown_facts(facts, value, fingerprint)))
    assert facts_from_breakdown(7, 3, stored) == facts
    assert breakdown_of(POLICY, 7, 3, stored) == scorer.explain(facts)
    # Facts of an indicator the policy does not have count for nobody and are left out.
    stray = PeriodFacts(7, 3, "law_enforcement", {"retired": QuantityFacts(Decimal(1), 1)})
    assert json.loads(breakdown_facts_json(stray, Decimal(0), fingerprint, IDS))["q"] == {}
