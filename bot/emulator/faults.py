"""Fault injection: answer chosen Bot API calls with 429, 403, 5xx or 400 instead."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from bot.emulator.errors import BOT_BLOCKED, ApiError

# Calls that deliver something to a chat: what a rule without a method applies to.
SENDING_METHODS = frozenset(
    {
        "sendmessage",
        "senddocument",
        "sendphoto",
        "sendchataction",
        "editmessagetext",
        "editmessagecaption",
        "editmessagereplymarkup",
        "deletemessage",
    }
)
ANY_METHOD = "*"

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: injected fault",
    403: BOT_BLOCKED,
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(slots=True)
class FaultRule:
    """One injected fault.

    Args:
        status: HTTP status / error_code to answer with.
        method: Bot API method it applies to; None means any sending method, ``"*"``
            means every method, getUpdates included.
        chat_id: Only calls for this chat; None means any chat.
        retry_after: Seconds for a 429 (default 1: python-telegram-bot only raises
            RetryAfter when it is non-zero).
        description: The error text; Telegram's usual text for the status by default.
        times: How many matching calls fail; ignored when ``probability`` is set.
        probability: Chance (0..1) that each matching call fails, until cleared.
        seed: Seed of this rule's random generator, for reproducible runs.
    """

    status: int
    method: str | None = None
    chat_id: int | None = None
    retry_after: int | None = None
    description: str | None = None
    times: int = 1
    probability: float | None = None
    seed: int | None = None
    id: int = 0
    hits: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.status not in (400, 403, 429) and not 500 <= self.status <= 599:
            raise ValueError(f"unsupported fault status {self.status}")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.probability is None and self.times < 1:
            raise ValueError("times must be at least 1")
        # Not for security: a reproducible coin for test scenarios.
        self._rng = random.Random(self.seed)  # noqa: S311

    def applies_to(self, method: str, chat_id: int | None) -> bool:
        """Tells whether a call (lower-case method name) is covered by this rule."""
        if self.method is None:
            if method not in SENDING_METHODS:
                return False
        elif self.method != ANY_METHOD and self.method.lower() != method:
            return False
        return self.chat_id is None or self.chat_id == chat_id

    def error(self) -> ApiError:
        """The failure this rule answers with."""
        if self.status == 429:
            retry_after = max(1, self.retry_after or 1)
            text = self.description or f"Too Many Requests: retry after {retry_after}"
            return ApiError(429, text, retry_after=retry_after)
        text = self.description or _DEFAULT_DESCRIPTIONS.get(self.status, "Internal Server Error")
        return ApiError(self.status, text)

    def describe(self) -> dict[str, Any]:
        """The rule as the driver API reports it."""
        return {
            "id": self.id,
            "status": self.status,
            "method": self.method,
            "chat_id": self.chat_id,
            "retry_after": self.retry_after,
            "description": self.description,
            "times": self.times,
            "probability": self.probability,
            "hits": self.hits,
        }


class FaultInjector:
    """The active fault rules, checked before every Bot API call."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._next_id = 1

    def add(self, rule: FaultRule) -> int:
        """Activates a rule; returns its id."""
        rule.id = self._next_id
        self._next_id += 1
        self._rules.append(rule)
        return rule.id

    def clear(self) -> None:
        """Removes every rule."""
        self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        """Describes the active rules."""
        return [rule.describe() for rule in self._rules]

    def check(self, method: str, chat_id: int | None) -> ApiError | None:
        """Returns the fault for this call, if a rule fires (consuming one of its times)."""
        if not self._rules:
            return None
        for rule in self._rules:
            if not rule.applies_to(method, chat_id):
                continue
            if rule.probability is not None:
                if rule._rng.random() >= rule.probability:
                    continue
            else:
                rule.times -= 1
                if rule.times <= 0:
                    self._rules.remove(rule)
            rule.hits += 1
            return rule.error()
        return None
