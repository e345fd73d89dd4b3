"""Faults injected into real parts: a store call that fails once, then works again."""

from __future__ import annotations

from typing import Any

import pytest


def fail_once(
    monkeypatch: pytest.MonkeyPatch, owner: type, name: str, error: BaseException
) -> None:
    """Make the coroutine method ``owner.name`` raise ``error`` on its first call, then
    do what it did before."""
    real = getattr(owner, name)
    failures = [error]

    async def failing_once(self: Any, *args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, failing_once)
