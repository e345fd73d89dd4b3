"""The career record (职业成就档案): everything a person's results add up to, in one place.

Grades by period and by year, points with their reasons, key tasks, honours with their
citations and training needs. A person sees their own (``/record``, in a private chat like every
result); HR sees anyone's (``/record EMPLOYEE_NO``) with the HR-only flags of each year
(merit, dismissal review, promotion eligibility), and exports it. Nobody else sees one.

Honours come from the policy's list (``[[annual.honours]]``); HR awards them with a
citation, audited (``honour.awarded``). Trainings of the catalogue (``[[annual.trainings]]``)
a person completed are recorded by HR with a note, audited (``training.recorded``).

Key tasks (重点任务) are the urgent or dangerous tasks HR assigned a person for a period
with a reason: the allowances of the kinds the policy marks ``key_task``
(``[bonus.allowances.*]``, ``assessment.bonus.assign_allowance``, audited
``bonus.allowance_assigned``), as long as they stand (not withdrawn). The allowance is
the one record of the task: nothing is recorded twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from assessment import access
from assessment.people import StaffMember
from config.policy import Policy
from storage.repositories.annual import (
    AnnualRow,
    HonourLine,
    KeyTaskLine,
    PeriodLine,
    PointLine,
    TrainingLine,
)
from storage.repositories.audit import Event
from storage.uow import UnitOfWork

__all__ = [
    "MAX_CITATION",
    "Awarded",
    "CareerRecord",
    "RecordError",
    "award_honour",
    "key_task_kinds",
    "record_of",
    "record_training",
]

MAX_CITATION = 500


class RecordError(enum.StrEnum):
    """Why a record was not shown, or an honour not awarded."""

    NOT_PERMITTED = "not_permitted"  # someone else's record, and not HR
    UNKNOWN_PERSON = "unknown_person"
    NO_HONOURS = "no_honours"  # the policy lists none
    UNKNOWN_HONOUR = "unknown_honour"
    UNKNOWN_TRAINING = "unknown_training"
    CITATION_NEEDED = "citation_needed"
    CITATION_TOO_LONG = "citation_too_long"


@dataclass(frozen=True, slots=True)
class CareerRecord:
    """One person's record; ``for_hr``: read by HR, so the HR-only flags are shown."""

    person: StaffMember
    department: str
    for_hr: bool
    years: tuple[AnnualRow, ...]
    periods: tuple[PeriodLine, ...]
    points: tuple[PointLine, ...]
    honours: tuple[HonourLine, ...]
    trainings: tuple[TrainingLine, ...] = ()
    key_tasks: tuple[KeyTaskLine, ...] = ()


def key_task_kinds(policy: Policy) -> tuple[str, ...]:
    """The kinds of allowance the policy pays for key tasks."""
    return tuple(kind for kind, allowance in policy.bonus.allowances.items() if allowance.key_task)


@dataclass(frozen=True, slots=True)
class Awarded:
    """An honour awarded, or a training recorded: to whom, which (its id), on which day."""

    person: StaffMember
    item_id: str
    on: date


async def _person(uow: UnitOfWork, employee_no: str) -> StaffMember | None:
    staff = await uow.staff.by_employee_no(employee_no.strip())
    return None if staff is None else StaffMember.of(staff)


async def record_of(
    uow: UnitOfWork,
    viewer: StaffMember,
    employee_no: str | None = None,
    *,
    policy: Policy,
) -> CareerRecord | RecordError:
    """The record of ``employee_no`` (the viewer's own if ``None`` or theirs), as
    ``viewer`` may see it: their own, or anyone's for HR; its key tasks are the
    allowances of ``policy``'s key-task kinds."""
    is_hr = access.check(viewer, access.HR) is None
    if employee_no is None or employee_no.strip() == viewer.employee_no:
        person: StaffMember | None = viewer
    elif not is_hr:
        return RecordError.NOT_PERMITTED
    else:
        person = await _person(uow, employee_no)
    if person is None:
        return RecordError.UNKNOWN_PERSON
    return CareerRecord(
        person=person,
        department=await uow.annual.department_name(person.department_id),
        for_hr=is_hr,
        years=tuple(await uow.annual.of_person(person.id)),
        periods=tuple(await uow.annual.periods_of(person.id)),
        points=tuple(await uow.annual.points_of(person.id)),
        honours=tuple(await uow.annual.honours_of(person.id)),
        trainings=tuple(await uow.annual.trainings_of(person.id)),
        key_tasks=tuple(await uow.annual.key_tasks_of(person.id, key_task_kinds(policy))),
    )


async def award_honour(
    uow: UnitOfWork,
    policy: Policy,
    actor: StaffMember,
    employee_no: str,
    honour_id: str,
    citation: str,
    *,
    now: datetime,
    today: date,
) -> Awarded | RecordError:
    """HR awards an honour of the policy's list to a person, with a citation, audited."""
    if access.check(actor, access.HR) is not None:
        return RecordError.NOT_PERMITTED
    if policy.annual is None or not policy.annual.honours:
        return RecordError.NO_HONOURS
    try:
        policy.annual.honour(honour_id)
    except KeyError:
        return RecordError.UNKNOWN_HONOUR
    citation = citation.strip()
    if not citation:
        return RecordError.CITATION_NEEDED
    if len(citation) > MAX_CITATION:
        return RecordError.CITATION_TOO_LONG
    person = await _person(uow, employee_no)
    if person is None:
        return RecordError.UNKNOWN_PERSON
    award_id = await uow.annual.award(
        person.id, honour_id, citation, on=today, by=actor.id, at=now
    )
    await uow.audit.add(
        Event(
            action="honour.awarded",
            subject_type="honour_award",
            subject_id=award_id,
            at=now,
            actor_staff_id=actor.id,
            details={"staff_id": person.id, "honour": honour_id, "citation": citation},
        )
    )
    return Awarded(person, honour_id, today)


async def record_training(
    uow: UnitOfWork,
    policy: Policy,
    actor: StaffMember,
    employee_no: str,
    training_id: str,
    note: str,
    *,
    now: datetime,
    today: date,
) -> Awarded | RecordError:
    """HR records a training of the catalogue a person completed, with a note, audited."""
    if access.check(actor, access.HR) is not None:
        return RecordError.NOT_PERMITTED
    if policy.annual is None:
        return RecordError.UNKNOWN_TRAINING
    try:
        policy.annual.training(training_id)
    except KeyError:
        return RecordError.UNKNOWN_TRAINING
    note = note.strip()
    if not note:
        return RecordError.CITATION_NEEDED
    if len(note) > MAX_CITATION:
        return RecordError.CITATION_TOO_LONG
    person = await _person(uow, employee_no)
    if person is None:
        return RecordError.UNKNOWN_PERSON
    record_id = await uow.annual.record_training(
        person.id, training_id, note, on=today, by=actor.id, at=now
    )
    await uow.audit.add(
        Event(
            action="training.recorded",
            subject_type="training_record",
            subject_id=record_id,
            at=now,
            actor_staff_id=actor.id,
            details={"staff_id": person.id, "training": training_id, "note": note},
        )
    )
    return Awarded(person, training_id, today)
