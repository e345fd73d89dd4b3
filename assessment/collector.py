"""No full passes of the cyclic garbage collector while a big job holds many objects.

CPython frees almost everything by reference counting. Its cyclic collector looks
for garbage in cycles, generation by generation, on the event loop's thread: the
young generations (what was allocated lately) often and cheaply, the whole heap
now and then. While a roster import holds 100,000 rows from the file and 100,000
from the store, with its plan, each full pass walks half a million objects that
reference counting frees anyway when the import ends: a stall of 100 ms and more,
several times per import, for everyone else's replies.

``full_passes_held()`` keeps the collector collecting the young generations, so the
garbage in cycles that other work makes meanwhile (statements, sessions) still goes
within milliseconds, but stops its automatic full passes until the job ends (jobs
may overlap: the thresholds come back when the last one ends). The first full pass
after the job walks only what is still alive then. The job's own objects must not
be kept alive past it for this to be worth it (a roster kept for its Apply is kept
pickled: one bytes object).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# The oldest generation's threshold while full passes are held: never reached.
_NEVER = 2**31 - 1

# How many jobs hold full passes off now, and the thresholds from before the first.
_holders = 0
_thresholds: tuple[int, ...] = ()


@contextlib.contextmanager
def full_passes_held() -> Iterator[None]:
    """No automatic full collection while the block runs (and others like it)."""
    global _holders, _thresholds
    if _holders == 0:
        _thresholds = gc.get_threshold()
        youngest, middle, _oldest = _thresholds
        gc.set_threshold(youngest, middle, _NEVER)
    _holders += 1
    try:
        yield
    finally:
        _holders -= 1
        if _holders == 0:
            gc.set_threshold(*_thresholds)


def holders() -> int:
    """How many jobs hold full passes off now."""
    return _holders
