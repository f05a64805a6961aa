"""The single-request APIs' service (Bing Locations, Nominatim): who may ask, at what rate, and
the answer, charged to the key's daily quota as the batch APIs charge theirs.

A request carries a key (query parameter or header) or, when the server allows open access,
none: then it is limited per client address instead, and charged to nobody. A request that
found nothing is not charged (as Geocode.Farm's single calls). The geocoder is the one the
server already holds for single calls (shared with the Geocode.Farm routes), opened on first use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from geobatch.batch.worker import BatchGeocoder
from geobatch.config import Settings
from geobatch.jobs.errors import LimitExceeded, NotAuthenticated
from geobatch.jobs.keys import authenticate, usage_day
from geobatch.jobs.ratelimit import RateLimiter
from geobatch.jobs.store import ApiKey, Charge, JobStore
from geobatch.model import Answer, GeocodeRequest, ReverseRequest


class RateLimited(LimitExceeded):
    """Too many requests from one key or address just now: try again in ``wait`` seconds."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class QuotaExceeded(LimitExceeded):
    """The key's daily quota is used up (the APIs answer 402)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request is from: a key, or (open access) only a client address."""

    key: ApiKey | None
    address: str


class SingleService:
    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        geocoder: Callable[[], BatchGeocoder],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self._open = geocoder
        self.ready = False  # the geocoder is open: a request takes a millisecond, not seconds
        self.clock = clock
        self.per_key = RateLimiter(settings.key_rate, settings.key_burst)
        self.per_address = RateLimiter(settings.open_rate, settings.open_burst)

    def admit(self, secret: str | None, address: str) -> Caller:
        """Authenticate and rate-limit one request. A key that is given must be valid even
        under open access (a typo should not silently fall back to the keyless limit)."""
        if secret:
            key = authenticate(self.store, secret)
            self._limit(self.per_key, f"key:{key.id}", "this key")
            return Caller(key, address)
        if not self.settings.open_access:
            raise NotAuthenticated(
                "a key is required: add key=YOUR_KEY to the query string or send an "
                "X-Api-Key header",
                "NoCredentials",
            )
        self._limit(self.per_address, address, "this address (open access, no key)")
        return Caller(None, address)

    @staticmethod
    def _limit(limiter: RateLimiter, who: str, what: str) -> None:
        wait = limiter.take(who)
        if wait > 0:
            rate = f"{limiter.rate:g} requests per second"
            raise RateLimited(f"too many requests from {what}: at most {rate}", wait)

    def geocoder(self) -> BatchGeocoder:
        opened = self._open()
        self.ready = True
        return opened

    def forward(self, caller: Caller, request: GeocodeRequest) -> Answer:
        return self._charged(caller, lambda g: g.geocode_batch([request])[0])

    def reverse(self, caller: Caller, request: ReverseRequest) -> Answer:
        return self._charged(caller, lambda g: g.reverse_batch([request])[0])

    def _charged(self, caller: Caller, ask: Callable[[BatchGeocoder], Answer]) -> Answer:
        key = caller.key
        if key is None:
            return ask(self.geocoder())
        day = usage_day(self.clock())
        try:
            self.store.charge(Charge(key.id, day, 1, key.daily_limit))
        except LimitExceeded as exc:
            raise QuotaExceeded(str(exc)) from None
        try:
            answer = ask(self.geocoder())
        except BaseException:
            self.store.add_usage(key.id, day, -1)
            raise
        if answer.best is None:
            self.store.add_usage(key.id, day, -1)
        return answer
