"""What the property tests over generated organisations share.

Hypothesis runs each example synchronously while the store is async, and one migrated
database (the ``url`` fixture in ``conftest.py``) serves every example of a test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

T = TypeVar("T", bound=Callable[..., Any])


def examples(count: int) -> Callable[[T], T]:
    """Hypothesis settings for a store-backed property: no deadline, ``count`` examples."""
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run one example's coroutine on an event loop of its own."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(asyncio.run, coroutine).result()
