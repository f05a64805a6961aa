"""Token buckets per caller (an API key, or a client address under open access).

A caller may send ``burst`` requests at once and ``rate`` a second on average; past that,
:meth:`RateLimiter.take` says how long to wait, which the API sends as ``Retry-After`` with a
429. In memory and per process: limits reset when the server restarts, which is what a rate
(unlike a daily quota) may do.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

# Callers remembered at most; the least recently seen is forgotten first (a full bucket again,
# so forgetting never makes a limit stricter).
MAX_CALLERS = 100_000


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_callers: int = MAX_CALLERS,
    ) -> None:
        if rate < 0 or burst < 1:
            raise ValueError(f"a rate limit needs rate >= 0 and burst >= 1, not {rate}, {burst}")
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.max_callers = max_callers
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when
        self._lock = threading.Lock()

    @property
    def unlimited(self) -> bool:
        return self.rate == 0

    def take(self, caller: str) -> float:
        """Take one request's token: 0.0 when allowed, else the seconds until one is free."""
        if self.unlimited:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.pop(caller, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[caller] = (tokens, now)
            if len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)
            return wait


def retry_after(wait: float) -> int:
    """Whole seconds for a ``Retry-After`` header: at least 1 (clients treat 0 as "now")."""
    return max(1, math.ceil(wait))
