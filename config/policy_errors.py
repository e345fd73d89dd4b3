"""Everything wrong with a policy file, told as one line: the file, the key path, the reason.

Whoever edits the policy is an HR officer with a text editor, not a Python programmer, so
pydantic's errors are rewritten here: locations become dotted TOML key paths
(``indicators.service[0].weight``), types are named the way TOML names them, and a misspelt
key gets a "did you mean" hint.
"""

from __future__ import annotations

import difflib
import json
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

# A key path inside the policy document: table keys and array indexes.
KeyPath = tuple[str | int, ...]

# More than this many problems in one line stops being readable; the count of the rest is kept.
_MAX_REPORTED = 10
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_LONG_TEXT = 40


@dataclass(frozen=True)
class PolicyIssue:
    """One problem found in a policy file.

    Attributes:
        key: Dotted key path such as ``grades[1].min_score``; empty when the problem concerns
            the whole file (missing, unreadable, not TOML).
        message: What is wrong, in words the editor of the file understands.
    """

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


class PolicyError(Exception):
    """The policy file is missing, unreadable, not TOML, or breaks a rule.

    ``str(error)`` is one line naming the file and, for each problem, the key path and reason,
    so it can go straight into a log or onto the console at start-up.

    Attributes:
        path: The policy file concerned.
        issues: Every problem found, in document order where pydantic reports it so.
    """

    def __init__(self, path: Path, issues: Sequence[PolicyIssue]) -> None:
        self.path = path
        self.issues = tuple(issues)
        shown = "; ".join(str(issue) for issue in self.issues[:_MAX_REPORTED])
        hidden = len(self.issues) - _MAX_REPORTED
        if hidden > 0:
            shown += f"; and {hidden} more"
        super().__init__(f"policy file {path}: {shown}")


class PolicyRuleError(ValueError):
    """A rule spanning several keys is broken (weights do not sum to 1, grades out of order...).

    Model validators raise it with key paths relative to the table they validate. pydantic
    would report such an error at the table itself; the loader reads the paths back out of
    the exception and prefixes the table's location, so the message names the exact key.
    """

    def __init__(self, violations: Iterable[tuple[KeyPath, str]]) -> None:
        self.violations = tuple(violations)
        super().__init__(
            "; ".join(
                f"{format_key_path(path) or '(this table)'}: {why}"
                for path, why in self.violations
            )
        )


def format_key_path(path: Iterable[str | int]) -> str:
    """Render a key path the way TOML would address it: ``indicators.service[0].weight``.

    Args:
        path: Table keys and array indexes; pydantic's ``"[key]"`` marker (set when a table
            key itself is invalid) is dropped, as the key is already in the path.

    Returns:
        The dotted path, with keys that are not bare TOML keys in double quotes.
    """
    rendered = ""
    for segment in path:
        if isinstance(segment, int):
            rendered += f"[{segment}]"
        elif segment != "[key]":
            key = segment if _BARE_KEY.fullmatch(segment) else _quote(segment)
            rendered += f".{key}" if rendered else key
    return rendered


def show(value: object) -> str:
    """Render a value as it would be written in TOML, for quoting it back in a message."""
    if isinstance(value, str):
        text = value if len(value) <= _LONG_TEXT else value[:_LONG_TEXT] + "…"
        return _quote(text)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[…]"
    if isinstance(value, Mapping):
        return "{…}"
    return str(value)


def describe(value: object) -> str:
    """Name a parsed TOML value's type and show it: ``string "abc"``, ``integer 5``."""
    return f"{_toml_type(value)} {show(value)}"


def issues_from_validation_error(
    error: ValidationError, root: type[BaseModel]
) -> list[PolicyIssue]:
    """Translate pydantic's validation errors into policy issues with dotted key paths.

    Args:
        error: Raised by ``root.model_validate`` on the parsed document.
        root: The model the document was validated against; used to list the keys a table
            allows when an unknown one turns up.

    Returns:
        One issue per problem; a ``PolicyRuleError`` contributes one issue per broken rule.
    """
    issues: list[PolicyIssue] = []
    for detail in error.errors(include_url=False):
        location = tuple(detail["loc"])
        cause = detail.get("ctx", {}).get("error")
        if isinstance(cause, PolicyRuleError):
            issues.extend(
                PolicyIssue(format_key_path(location + path), why)
                for path, why in cause.violations
            )
        else:
            issues.append(PolicyIssue(format_key_path(location), _reason(detail, root)))
    return issues


def _reason(detail: ErrorDetails, root: type[BaseModel]) -> str:
    """Say what is wrong in TOML terms rather than pydantic's Python terms."""
    kind = detail["type"]
    ctx: dict[str, Any] = dict(detail.get("ctx", {}))
    got = f" (got {describe(detail['input'])})"
    # Bounds are checked after conversion to Decimal, so the TOML type is no longer known.
    was = f" (got {show(detail['input'])})"
    match kind:
        case "missing":
            return "required key is missing"
        case "extra_forbidden":
            return _unknown_key(tuple(detail["loc"]), root)
        case "model_type" | "model_attributes_type" | "dict_type" | "mapping_type":
            return f"must be a table{got}"
        case "list_type" | "tuple_type":
            return f"must be an array{got}"
        case "int_type":
            return f"must be a whole number{got}"
        case "string_type":
            return f"must be a string{got}"
        case "bool_type":
            return f"must be true or false{got}"
        case "literal_error":
            return f"must be {ctx['expected'].replace(chr(39), chr(34))}{got}"
        case "greater_than":
            return f"must be greater than {ctx['gt']}{was}"
        case "greater_than_equal":
            return f"must be at least {ctx['ge']}{was}"
        case "less_than":
            return f"must be less than {ctx['lt']}{was}"
        case "less_than_equal":
            return f"must be at most {ctx['le']}{was}"
        case "too_short":
            return f"must have at least {ctx['min_length']} item(s)"
        case "value_error" | "assertion_error":
            return str(ctx["error"])
    message = detail["msg"]
    return message[:1].lower() + message[1:]


def _unknown_key(location: KeyPath, root: type[BaseModel]) -> str:
    """Word an unknown-key error, suggesting the nearest allowed key when there is one."""
    allowed = _allowed_keys(root, location[:-1])
    typo = str(location[-1]) if location else ""
    close = difflib.get_close_matches(typo, allowed, n=1)
    if close:
        return f"unknown key (did you mean {_quote(close[0])}?)"
    if allowed:
        return f"unknown key (allowed here: {', '.join(allowed)})"
    return "unknown key"


def _allowed_keys(root: type[BaseModel], table: KeyPath) -> list[str]:
    """The keys the model at ``table`` accepts, found by walking the field annotations."""
    node: object = root
    for segment in table:
        node = _unwrap(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            fields = {field.alias or name: field for name, field in node.model_fields.items()}
            node = fields[str(segment)].annotation if str(segment) in fields else None
        elif get_origin(node) is tuple:
            node = get_args(node)[0]
        elif get_origin(node) in (dict, Mapping):
            node = get_args(node)[1]
        else:
            return []
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [field.alias or name for name, field in node.model_fields.items()]
    return []


def _unwrap(node: object) -> object:
    """Strip ``Annotated[...]`` and ``X | None`` down to the type that holds the keys."""
    while True:
        origin = get_origin(node)
        if origin is Annotated:
            node = get_args(node)[0]
        elif origin in (Union, types.UnionType):
            present = [arg for arg in get_args(node) if arg is not type(None)]
            if len(present) != 1:
                return node
            node = present[0]
        else:
            return node


def _toml_type(value: object) -> str:
    """The TOML name of a parsed value's type (floats arrive as ``Decimal``)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, Decimal | float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "date-time"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "table"
    return type(value).__name__


def _quote(text: str) -> str:
    """Double-quote text the way TOML does, keeping Chinese readable."""
    return json.dumps(text, ensure_ascii=False)
