"""The words for a roster import: its problems and its summary, for the chat and the CLI.

Pure functions of a translator, so the bot and the command line say the same
things, each in the reader's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from assessment.leaving import Kept, KeptBecause
from assessment.roster import ImportSummary, ProblemCode, RosterProblem
from handlers.formatting import Gettext, listed, person_label
from locales import N_

Ngettext = Callable[[str, str, int], str]

# Long enough to recognise a value, short enough to keep one problem on one line.
VALUE_SHOWN = 60
# Employee numbers listed in a summary line before the rest are left out.
NUMBERS_SHOWN = 20

_REASONS: Mapping[tuple[ProblemCode, str | None], str] = {
    (ProblemCode.NOT_CSV_OR_XLSX, None): N_("this is not a CSV or XLSX file"),
    (ProblemCode.NOT_CSV_OR_XLSX, "xls"): N_(
        "this is an old Excel .xls file: save it as an Excel workbook (.xlsx) or as CSV UTF-8"
    ),
    (ProblemCode.WRONG_ENCODING, None): N_("the file is not UTF-8 text: save it as CSV UTF-8"),
    (ProblemCode.WRONG_ENCODING, "UTF-16"): N_("the file is UTF-16 text: save it as CSV UTF-8"),
    (ProblemCode.EMPTY_FILE, None): N_("the file lists no one"),
    (ProblemCode.WRONG_HEADER, "missing"): N_("this column is missing from the header row"),
    (ProblemCode.WRONG_HEADER, "unknown"): N_("unknown column"),
    (ProblemCode.WRONG_HEADER, "duplicate"): N_("this column appears more than once"),
    (ProblemCode.TOO_MANY_ROWS, None): N_("the file has more than {limit} rows"),
    (ProblemCode.MISSING_VALUE, None): N_("a value is required"),
    (ProblemCode.VALUE_TOO_LONG, None): N_("longer than {limit} characters"),
    (ProblemCode.DUPLICATE_EMPLOYEE_NO, None): N_(
        "this employee number is already used in row {other_row}"
    ),
    (ProblemCode.UNKNOWN_ROLE, None): N_("unknown role"),
    (ProblemCode.UNKNOWN_POST_TYPE, None): N_("unknown post type"),
    (ProblemCode.BAD_COEFFICIENT, None): N_("not a valid difficulty coefficient"),
    (ProblemCode.UNKNOWN_LANGUAGE, None): N_("unknown language"),
    (ProblemCode.UNKNOWN_STATUS, None): N_("unknown status"),
    (ProblemCode.CONFLICTING_POST, None): N_(
        "row {other_row} gives this post a different type or difficulty"
    ),
    (ProblemCode.MISSING_SUPERVISOR, None): N_(
        "no one has this employee number, in the file or on the roster"
    ),
    (ProblemCode.SELF_SUPERVISOR, None): N_("a person cannot be their own supervisor"),
    (ProblemCode.SUPERVISOR_CYCLE, None): N_("supervisors form a loop"),
    (ProblemCode.TOO_MANY_COLUMNS, None): N_("the row has more than {limit} columns"),
    (ProblemCode.UNPACKED_TOO_LARGE, None): N_(
        "the workbook unpacks to more than {limit} MB, far more than any roster needs"
    ),
    (ProblemCode.TOO_MANY_TEXTS, None): N_("the workbook holds more than {limit} different texts"),
    (ProblemCode.TOO_SLOW, None): N_("reading the file took longer than {limit} seconds"),
    (ProblemCode.OUT_OF_MEMORY, None): N_("reading the file needs more than {limit} MB of memory"),
    (ProblemCode.CONTROL_CHARACTER, None): N_("the cell holds an invisible control character"),
    (ProblemCode.FILE_CHANGED, None): N_("the file is no longer the one previewed: send it again"),
}
# What to write instead, after the value, for problems whose detail lists what is allowed.
_HINTS: Mapping[ProblemCode, str] = {
    ProblemCode.UNKNOWN_ROLE: N_("use {allowed}, separated by ;"),
    ProblemCode.UNKNOWN_POST_TYPE: N_("the policy has {allowed}"),
    ProblemCode.BAD_COEFFICIENT: N_("use a number from {range} with at most three decimals"),
    ProblemCode.UNKNOWN_LANGUAGE: N_("use {allowed}, or leave it empty"),
    ProblemCode.UNKNOWN_STATUS: N_("use {allowed}, or leave it empty"),
    ProblemCode.SUPERVISOR_CYCLE: N_("the loop is {loop}"),
    ProblemCode.TOO_MANY_ROWS: N_("blank rows count too: delete the empty rows below the list"),
    ProblemCode.UNPACKED_TOO_LARGE: N_(
        "save it as CSV UTF-8, or copy the list into a new workbook"
    ),
    ProblemCode.TOO_MANY_TEXTS: N_("save it as CSV UTF-8, or copy the list into a new workbook"),
    ProblemCode.TOO_SLOW: N_("save it as CSV UTF-8, or copy the list into a new workbook"),
    ProblemCode.OUT_OF_MEMORY: N_("save it as CSV UTF-8, or copy the list into a new workbook"),
    ProblemCode.CONTROL_CHARACTER: N_(
        "delete the character {character}, shown as \\x.. in the value"
    ),
}


def describe_problem(problem: RosterProblem, _: Gettext) -> str:
    """One problem on one line: ``row 5, column difficulty: <reason> (value); <hint>``."""
    msgid = _REASONS.get((problem.code, problem.detail)) or _REASONS[(problem.code, None)]
    detail = problem.detail or ""
    # Each message uses at most one of these names; str.format ignores the others.
    fields = dict.fromkeys(("limit", "other_row", "allowed", "range", "loop", "character"), detail)
    reason = _(msgid).format(**fields)
    if problem.value:
        reason = _("{reason} ({value})").format(reason=reason, value=_shorten(problem.value))
    if problem.code in _HINTS:
        hint = _(_HINTS[problem.code]).format(**fields)
        reason = _("{reason}; {hint}").format(reason=reason, hint=hint)
    if problem.row is None:
        return reason
    if problem.column is None:
        return _("row {row}: {reason}").format(row=problem.row, reason=reason)
    return _("row {row}, column {column}: {reason}").format(
        row=problem.row, column=problem.column, reason=reason
    )


def describe_rejection(problems: Sequence[RosterProblem], _: Gettext, ngettext: Ngettext) -> str:
    """Why a roster was refused: a heading, then every problem on a line of its own."""
    heading = ngettext(
        "The roster was not imported: {count} problem.",
        "The roster was not imported: {count} problems.",
        len(problems),
    ).format(count=len(problems))
    return "\n".join([heading, *(describe_problem(problem, _) for problem in problems)])


def describe_summary(summary: ImportSummary, _: Gettext, ngettext: Ngettext) -> str:
    """What an import changed (or would change, in a dry run), one fact per line."""
    lines = []
    if summary.dry_run:
        lines.append(_("Dry run: nothing was written. Importing would make these changes."))
    count = len(summary.created)
    lines.append(
        ngettext("{count} person added", "{count} people added", count).format(count=count)
    )
    count = len(summary.updated)
    lines.append(
        ngettext("{count} person updated", "{count} people updated", count).format(count=count)
    )
    count = len(summary.unchanged)
    lines.append(
        ngettext("{count} person unchanged", "{count} people unchanged", count).format(count=count)
    )
    if summary.departments_created:
        count = len(summary.departments_created)
        lines.append(
            ngettext(
                "{count} department created: {names}",
                "{count} departments created: {names}",
                count,
            ).format(count=count, names=_listed(_, summary.departments_created))
        )
    if summary.posts_created:
        count = len(summary.posts_created)
        lines.append(
            ngettext("{count} post created", "{count} posts created", count).format(count=count)
        )
    if summary.posts_updated:
        count = len(summary.posts_updated)
        lines.append(
            ngettext(
                "{count} post changed its type or difficulty",
                "{count} posts changed their type or difficulty",
                count,
            ).format(count=count)
        )
    if summary.role_changes:
        count = len(summary.role_changes)
        lines.append(
            ngettext(
                "roles changed for {count} person: {employee_nos}",
                "roles changed for {count} people: {employee_nos}",
                count,
            ).format(count=count, employee_nos=_listed(_, tuple(summary.role_changes)))
        )
    if summary.missing:
        count = len(summary.missing)
        lines.append(
            ngettext(
                "{count} person on the roster is not in the file: {employee_nos}",
                "{count} people on the roster are not in the file: {employee_nos}",
                count,
            ).format(count=count, employee_nos=_listed(_, summary.missing))
        )
    if summary.left_out:
        count = len(summary.left_out)
        lines.append(
            ngettext(
                "{count} person left as they were: someone changed them while the import "
                "wrote; send the file again to bring them in line: {employee_nos}",
                "{count} people left as they were: someone changed them while the import "
                "wrote; send the file again to bring them in line: {employee_nos}",
                count,
            ).format(count=count, employee_nos=_listed(_, summary.left_out))
        )
    if summary.marked_left:
        count = len(summary.marked_left)
        lines.append(
            ngettext(
                "{count} person marked as having left",
                "{count} people marked as having left",
                count,
            ).format(count=count)
        )
    lines.extend(describe_kept(summary.kept, _))
    return "\n".join(lines)


_KEPT_BECAUSE: Mapping[KeptBecause, str] = {
    KeptBecause.YOURSELF: N_("the person asking"),
    KeptBecause.LAST_HR: N_("the last HR member on staff"),
    KeptBecause.LAST_ADMIN: N_("the last administrator on staff"),
}


def describe_kept(kept: Sequence[Kept], _: Gettext) -> list[str]:
    """Who a bulk "mark as left" kept on staff and why, one a line."""
    return [
        _("Not marked as having left: {person}, {reason}.").format(
            person=person_label(_, item.person.name, item.person.employee_no),
            reason=_(_KEPT_BECAUSE[item.because]),
        )
        for item in kept
    ]


def _shorten(value: str) -> str:
    return value if len(value) <= VALUE_SHOWN else value[: VALUE_SHOWN - 1] + "…"


def _listed(_: Gettext, items: Sequence[str]) -> str:
    more = ["…"] if len(items) > NUMBERS_SHOWN else []
    return listed(_, [*items[:NUMBERS_SHOWN], *more])
