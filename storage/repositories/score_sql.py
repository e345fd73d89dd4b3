"""A whole period's scores, grades and stored breakdowns computed by the database.

``ScoringPlan`` is the policy's formula as ``assessment.scoring.Scorer`` compiles it (its
per-post-type indicator tables, the limits, the rounding, the grade thresholds): the
one compiled form from which the Python evaluator scores and from which this module
writes one SQL statement per engine (``compute_statement``). Run over a range of staff
ids, the statement aggregates the period's approved entries, ratings and points, scores
each person with the formula, grades them by score, builds their stored breakdown (the
facts it was computed from, ``facts/1``) and upserts ``period_scores``, all in one
``INSERT ... SELECT``; it returns who it stored.

**Exact where it stores, Python where it cannot be.** The database computes the score
in floating point (double precision on both engines), whose error for a score of 0..100
is below 1e-12, and stores it only where that cannot matter: the score, scaled to
rounding steps, lies at least ``MARGIN`` of a step from every boundary of the rounding
(a half step for the half modes, a whole step for ``up`` and ``down``), so the rounded
value, and so the grade, is the one exact ``Decimal`` arithmetic gives. Everyone else is
left to Python (``assessment.period_scoring``), which scores them with the ``Scorer``
from the same facts: people near a boundary, those whose score reaches the top grade
(the quota grades them, with everyone in their scope), those with more than one points
entry (their order is part of the stored facts, and SQLite's aggregates take no order),
and anything the ``Scorer`` would refuse (a rating out of range, a disqualifying bonus).
The service tests hold the two equal on generated policies and facts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from string import Template

__all__ = ["MARGIN", "IndicatorPlan", "RaterPlan", "ScoringPlan", "compute_statement"]

# How near (in rounding steps) to a rounding boundary a float score is left to Python.
MARGIN = 1e-6


@dataclass(frozen=True, slots=True)
class RaterPlan:
    """One rater kind of a qualitative indicator and its weight (above 0)."""

    kind: str
    weight: Decimal


@dataclass(frozen=True, slots=True)
class IndicatorPlan:
    """One indicator of a post type as the formula scores it."""

    id: str
    qualitative: bool
    common: bool
    mean: bool
    points: Decimal
    weight: Decimal
    raters: tuple[RaterPlan, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoringPlan:
    """The formula of one policy, compiled (``assessment.scoring.Scorer.plan``).

    ``grades``: (grade id, the least whole number of rounding steps that reaches it),
    best first, the last from 0; ``steps_per_unit``: 10 ** decimals of the rounding.
    """

    post_types: tuple[tuple[str, tuple[IndicatorPlan, ...]], ...]
    indicator_ids: tuple[str, ...]
    raters: tuple[str, ...]
    rating_max: int
    peer_min: int
    bonus_limit: Decimal
    deduction_limit: Decimal
    decimals: int
    mode: str
    grades: tuple[tuple[str, int], ...]
    fingerprint: str
    facts_format: str


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _number(value: Decimal | int) -> str:
    # A float literal of the exact decimal (its nearest double).
    return repr(float(value))


def _clamp(expression: str, pg: bool) -> str:
    if pg:
        return f"LEAST(GREATEST({expression}, 0.0), 100.0)"
    return f"MIN(MAX({expression}, 0.0), 100.0)"


def _indicator_columns(plan: ScoringPlan) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    quantities: dict[str, int] = {}
    ratings: dict[tuple[str, str], int] = {}
    for _, indicators in plan.post_types:
        for indicator in indicators:
            if indicator.qualitative:
                for rater in indicator.raters:
                    ratings.setdefault((indicator.id, rater.kind), len(ratings))
            else:
                quantities.setdefault(indicator.id, len(quantities))
    return quantities, ratings


def _indicator_score(
    indicator: IndicatorPlan,
    plan: ScoringPlan,
    quantities: dict[str, int],
    ratings: dict[tuple[str, str], int],
    pg: bool,
) -> tuple[str, str]:
    # The indicator's score 0..100 where it is present, and the condition that it is
    # (``Scorer._evaluate``: a sum is always present, a mean with entries, a rating
    # with a rater kind that counts).
    if indicator.qualitative:
        weighted, shares = [], []
        for rater in indicator.raters:
            n = ratings[(indicator.id, rater.kind)]
            least = plan.peer_min if rater.kind == "peer" else 1
            counted = f"COALESCE(rc{n}, 0) >= {max(1, least)}"
            weighted.append(f"CASE WHEN {counted} THEN {_number(rater.weight)} * rs{n} / rc{n} "
                            "ELSE 0.0 END")  # fmt: skip
            shares.append(f"CASE WHEN {counted} THEN {_number(rater.weight)} ELSE 0.0 END")
        if not weighted:
            return "0.0", "1 = 0"
        den = " + ".join(shares)
        score = f"100.0 * (({' + '.join(weighted)}) / ({den})) / {_number(plan.rating_max)}"
        return score, f"({den}) > 0"
    n = quantities[indicator.id]
    if indicator.mean:
        raw, present = f"(qt{n} / qn{n})", f"COALESCE(qn{n}, 0) > 0"
    else:
        raw, present = f"COALESCE(qt{n}, 0.0)", "1 = 1"
    earned = f"{_number(indicator.points)} * {raw}"
    if indicator.common:
        earned = f"100.0 - {earned}"
    return _clamp(earned, pg), present


def _base(plan: ScoringPlan, pg: bool) -> str:
    # The weighted indicator scores over the indicators present, by post type.
    quantities, ratings = _indicator_columns(plan)
    cases = []
    for post_type, indicators in plan.post_types:
        parts = [
            (*_indicator_score(i, plan, quantities, ratings, pg), _number(i.weight))
            for i in indicators
        ]
        if not parts:
            cases.append(f"WHEN {_text(post_type)} THEN 0.0")
            continue
        weighted = " + ".join(
            f"CASE WHEN {present} THEN {w} * {score} ELSE 0.0 END" for score, present, w in parts
        )
        weights = " + ".join(
            f"CASE WHEN {present} THEN {w} ELSE 0.0 END" for _, present, w in parts
        )
        cases.append(
            f"WHEN {_text(post_type)} THEN CASE WHEN ({weights}) > 0 "
            f"THEN ({weighted}) / ({weights}) ELSE 0.0 END"
        )
    return f"CASE subj.post_type {' '.join(cases)} END"


def _in_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(_text(value) for value in values) + ")" if values else "(NULL)"


def _pivots(plan: ScoringPlan, pg: bool) -> tuple[str, str]:
    quantities, ratings = _indicator_columns(plan)
    real = "DOUBLE PRECISION" if pg else "REAL"
    entry_columns = "".join(
        f", MAX(CASE WHEN e.indicator_id = {_text(i)} AND e.n > 0 THEN CAST(e.t AS {real}) "
        f"{'' if pg else '/ 1000.0 '}END) AS qt{n}, "
        f"MAX(CASE WHEN e.indicator_id = {_text(i)} THEN e.n END) AS qn{n}"
        for i, n in quantities.items()
    )
    rating_columns = "".join(
        f", MAX(CASE WHEN g.indicator_id = {_text(i)} AND g.rater_kind = {_text(k)} "
        f"THEN CAST(g.s AS {real}) END) AS rs{n}, "
        f"MAX(CASE WHEN g.indicator_id = {_text(i)} AND g.rater_kind = {_text(k)} "
        f"THEN g.c END) AS rc{n}"
        for (i, k), n in ratings.items()
    )
    return entry_columns, rating_columns


def _rating_checks(plan: ScoringPlan) -> str:
    # A rating sum no set of ratings 1..rating_max could make: the Scorer refuses it.
    _, ratings = _indicator_columns(plan)
    checks = [
        f"(COALESCE(rc{n}, 0) > 0 AND (rs{n} < rc{n} OR rs{n} > rc{n} * {plan.rating_max}))"
        for n in ratings.values()
    ]
    return " OR ".join(checks) if checks else "1 = 0"


def _rounded(plan: ScoringPlan, pg: bool) -> tuple[str, str]:
    # (whole steps of the rounded score, whether the float lies within MARGIN of a
    # boundary), from ``f``: the clamped score in steps. Truncation is floor (f >= 0).
    integer = "BIGINT" if pg else "INTEGER"
    whole = f"CAST(f AS {integer})"
    if pg:
        whole = "FLOOR(f)"
    if plan.mode in ("half_up", "half_even"):
        steps = f"CAST({'FLOOR(f + 0.5)' if pg else 'CAST(f + 0.5 AS INTEGER)'} AS {integer})"
        near = f"ABS(f - {whole} - 0.5) < {MARGIN!r}"
    else:
        fraction = f"(f - {whole})"
        near = f"({fraction} < {MARGIN!r} OR {fraction} > {1 - MARGIN!r})"
        if plan.mode == "down":
            steps = f"CAST({whole} AS {integer})"
        else:
            steps = f"CAST({whole} AS {integer}) + CASE WHEN f > {whole} THEN 1 ELSE 0 END"
    # A score clamped to 0 or 100 is exact, whatever the mode.
    return steps, f"(x > 0.0 AND x < 100.0 AND {near})"


def _decimal_text(column: str, pg: bool) -> str:
    # A total as ``str(Decimal)`` writes it: PostgreSQL's NUMERIC as its text; SQLite's
    # integer thousandths as the exact quotient (1759.1, 12, -0.5, 0.005).
    if pg:
        return f"CAST({column} AS TEXT)"
    return (
        f"(CASE WHEN {column} < 0 THEN '-' ELSE '' END || (ABS({column}) / 1000) || "
        f"CASE WHEN ABS({column}) % 1000 = 0 THEN '' ELSE "
        f"'.' || RTRIM(printf('%03d', ABS({column}) % 1000), '0') END)"
    )


# The statement; ``$name``s are the plan's SQL fragments and the driver's marks.
_STATEMENT = Template(
    "WITH subj AS ("
    "SELECT r.staff_id, COALESCE(NULLIF(r.post_type, ''), p.post_type) AS post_type, "
    "r.department_id FROM period_reviews r JOIN staff s ON s.id = r.staff_id "
    "LEFT JOIN posts p ON p.id = s.post_id "
    "WHERE r.period_id = $period AND r.excluded_at IS NULL "
    "AND r.staff_id > $lo AND r.staff_id <= $hi), "
    "e AS ("
    "SELECT staff_id, indicator_id, "
    "SUM(CASE WHEN status = 'approved' THEN $quantity END) AS t, "
    "COUNT(CASE WHEN status = 'approved' THEN quantity END) AS n, "
    "MAX(CASE WHEN status = 'rejected' AND $caught THEN 1 ELSE 0 END) AS caught "
    "FROM work_entries ${scoring_index}"
    "WHERE staff_id > $lo AND staff_id <= $hi "
    "AND work_date >= $starts AND work_date <= $ends "
    "AND ((status = 'approved' AND indicator_id IS NOT NULL AND quantity IS NOT NULL) "
    "OR (status = 'rejected' AND $caught)) "
    "GROUP BY staff_id, indicator_id), "
    "ep AS (SELECT e.staff_id, MAX(e.caught) AS caught$entry_columns, $q_json AS q "
    "FROM e GROUP BY e.staff_id), "
    "g AS (SELECT staff_id, indicator_id, rater_kind, SUM(value) AS s, COUNT(*) AS c "
    "FROM ratings WHERE period_id = $period AND staff_id > $lo AND staff_id <= $hi "
    "${peers}GROUP BY staff_id, indicator_id, rater_kind), "
    "rp AS (SELECT g.staff_id$rating_columns, $r_json AS r FROM g GROUP BY g.staff_id), "
    "pp AS (SELECT staff_id, COUNT(*) AS pn, "
    "COALESCE(SUM(CASE WHEN $amount > 0 THEN $amount END), 0.0) AS bonus, "
    "COALESCE(-SUM(CASE WHEN $amount < 0 THEN $amount END), 0.0) AS deduction, "
    "MAX(CASE WHEN $disqualifying THEN 1 ELSE 0 END) AS barred, "
    "MAX(CASE WHEN $disqualifying AND $amount > 0 THEN 1 ELSE 0 END) AS bad, "
    "$p_json AS p "
    "FROM score_points WHERE period_id = $period AND staff_id > $lo "
    "AND staff_id <= $hi AND withdrawn_at IS NULL GROUP BY staff_id), "
    "b AS (SELECT subj.staff_id, subj.department_id, subj.post_type, ($base) AS base, "
    "COALESCE(pp.bonus, 0.0) AS bonus, COALESCE(pp.deduction, 0.0) AS deduction, "
    "COALESCE(pp.pn, 0) AS pn, COALESCE(pp.bad, 0) AS bad, ($refused) AS refused, "
    "(COALESCE(ep.caught, 0) = 1) AS m, "
    "(COALESCE(ep.caught, 0) = 1 OR COALESCE(pp.barred, 0) = 1) AS disq, "
    "ep.q, rp.r, pp.p FROM subj LEFT JOIN ep ON ep.staff_id = subj.staff_id "
    "LEFT JOIN rp ON rp.staff_id = subj.staff_id "
    "LEFT JOIN pp ON pp.staff_id = subj.staff_id "
    "WHERE subj.post_type IN $post_types), "
    "xs AS MATERIALIZED (SELECT b.*, $total AS x FROM b), "
    "fs AS (SELECT xs.*, x * $unit AS f FROM xs), "
    "ks AS (SELECT fs.*, $steps AS steps, $near AS near FROM fs), "
    "cs AS (SELECT ks.*, $grade AS grade, $score_text AS score_text FROM ks "
    "WHERE NOT near AND pn < 2 AND bad = 0 AND NOT refused) "
    "INSERT INTO period_scores (period_id, staff_id, $computed, version) "
    "SELECT $period, staff_id, department_id, $score_value, grade, grade, "
    "$breakdown, disq, $now, 1 FROM cs WHERE grade <> $top "
    "ON CONFLICT (period_id, staff_id) DO UPDATE SET $updates, "
    "version = period_scores.version + 1 WHERE period_scores.published_at IS NULL "
    "RETURNING staff_id, department_id, grade_id"
)


@functools.cache
def compute_statement(dialect: str, plan: ScoringPlan, with_peers: bool) -> str:
    """The statement that scores, grades, explains and upserts one range of people.

    Parameters, as the driver takes them (SQLite ``?``, PostgreSQL ``$n``, in this
    order): the period's id, the range's first staff id (exclusive) and last
    (inclusive), the period's first and last days, and the time computed. It stores
    everyone of the range with a review row not excluded, a post type of the plan and
    nothing left to Python (see the module), and returns (staff id, department id,
    grade id) of each row it stored.
    """
    pg = dialect == "postgresql"
    marks = [f"${n}" if pg else f"?{n}" for n in range(1, 7)]
    period, lo, hi, starts, ends, now = marks
    entry_columns, rating_columns = _pivots(plan, pg)
    ids = _in_list(plan.indicator_ids)
    raters = _in_list(plan.raters)
    post_types = _in_list(tuple(post_type for post_type, _ in plan.post_types))
    quantity = "quantity" if pg else "CAST(ROUND(quantity * 1000) AS INTEGER)"
    caught = "misconduct" if pg else "misconduct = 1"
    real = "DOUBLE PRECISION" if pg else "REAL"
    steps, near = _rounded(plan, pg)
    unit = 10**plan.decimals
    if pg:
        score_value = f"CAST(steps AS NUMERIC) / {unit}"
        if plan.decimals:
            score_value = f"CAST({score_value} AS NUMERIC(20, {plan.decimals}))"
        score_text = f"CAST({score_value} AS TEXT)"
        q_json = (
            "json_object_agg(e.indicator_id, json_build_array(CAST(e.t AS TEXT), e.n)) "
            f"FILTER (WHERE e.n > 0 AND e.indicator_id IN {ids})"
        )
        r_json = (
            "json_agg(json_build_array(g.indicator_id, g.rater_kind, g.s, g.c)) "
            f"FILTER (WHERE g.indicator_id IN {ids} AND g.rater_kind IN {raters})"
        )
        p_json = "json_agg(json_build_array(CAST(amount AS TEXT), reason, disqualifying))"
        breakdown = (
            f"json_build_object('format', {_text(plan.facts_format)}, 'policy', "
            f"{_text(plan.fingerprint)}, 'post_type', post_type, 'score', score_text, "
            "'q', COALESCE(q, CAST('{}' AS JSON)), 'r', COALESCE(r, CAST('[]' AS JSON)), "
            "'p', COALESCE(p, CAST('[]' AS JSON)), 'm', m)"
        )
    else:
        score_value = f"printf('%.{plan.decimals}f', steps / {float(unit)!r})"
        score_text = score_value
        # JSON written as text, as ``period_scoring.breakdown_facts_json`` writes it: the
        # identifiers are the policy's (the filters keep only those), the decimals' text
        # needs no escaping, the reasons are quoted by ``json_quote``.
        q_json = (
            "'{' || group_concat('\"' || e.indicator_id || '\":[\"' || "
            f"{_decimal_text('e.t', pg)} || '\",' || e.n || ']', ',') "
            f"FILTER (WHERE e.n > 0 AND e.indicator_id IN {ids}) || '}}'"
        )
        r_json = (
            "group_concat('[\"' || g.indicator_id || '\",\"' || g.rater_kind || '\",' || g.s "
            "|| ',' || g.c || ']', ',') "
            f"FILTER (WHERE g.indicator_id IN {ids} AND g.rater_kind IN {raters})"
        )
        p_json = (
            "group_concat('[\"' || amount || '\",' || json_quote(reason) || ',' || "
            "CASE WHEN disqualifying = 1 THEN 'true' ELSE 'false' END || ']', ',')"
        )
        breakdown = (
            f'\'{{"format":"{plan.facts_format}","policy":"{plan.fingerprint}",'
            '"post_type":"\' || post_type || \'","score":"\' || score_text || '
            "'\",\"q\":' || COALESCE(q, '{}') || ',\"r\":[' || COALESCE(r, '') || "
            "'],\"p\":[' || COALESCE(p, '') || '],\"m\":' || "
            "CASE WHEN m THEN 'true' ELSE 'false' END || '}'"
        )
    grade = (
        "CASE "
        + " ".join(
            f"WHEN steps >= {least} THEN {_text(grade_id)}" for grade_id, least in plan.grades[:-1]
        )
        + f" ELSE {_text(plan.grades[-1][0])} END"
    )
    top = _text(plan.grades[0][0])
    scoring_index = "" if pg else "INDEXED BY ix_work_entries_scoring "
    amount = "amount" if pg else f"CAST(amount AS {real})"
    disqualifying = "disqualifying" if pg else "disqualifying = 1"
    peers = "" if with_peers else "AND rater_kind <> 'peer' "
    computed = (
        "department_id, score, grade_id, by_score_grade_id, breakdown, disqualified, computed_at"
    )
    total = _clamp(
        f"base + (CASE WHEN bonus < {_number(plan.bonus_limit)} THEN bonus "
        f"ELSE {_number(plan.bonus_limit)} END) - (CASE WHEN deduction < "
        f"{_number(plan.deduction_limit)} THEN deduction "
        f"ELSE {_number(plan.deduction_limit)} END)",
        pg,
    )
    return _STATEMENT.substitute(
        period=period, lo=lo, hi=hi, starts=starts, ends=ends, now=now,
        quantity=quantity, caught=caught, scoring_index=scoring_index,
        entry_columns=entry_columns, q_json=q_json, peers=peers,
        rating_columns=rating_columns, r_json=r_json, amount=amount,
        disqualifying=disqualifying, p_json=p_json, base=_base(plan, pg),
        refused=_rating_checks(plan), post_types=post_types, total=total,
        unit=repr(float(unit)), steps=steps, near=near, grade=grade,
        score_text=score_text, computed=computed, score_value=score_value,
        breakdown=breakdown, top=top,
        updates=", ".join(f"{name} = excluded.{name}" for name in computed.split(", ")),
    )  # fmt: skip
