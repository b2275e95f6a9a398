"""Admission control: a bounded number of engine requests at once, a bounded FIFO queue with a deadline.

Past either bound a request is refused at once, never parked without limit: a full queue answers 429, a
wait longer than `max_queue_wait_seconds` answers 503, both with `Retry-After` estimated from recent
service times; a request whose own deadline passes while it waits answers 504. All of it lives on the
event loop (no locks): `acquire` and `release` must be called from async code of one loop.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from service.engines import DeadlineExceeded
from service.errors import Rejection

WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
REJECTION_REASONS = ("queue_full", "queue_timeout", "deadline", "engine_unavailable")


class AdmissionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.queue_depth = Gauge("router_queue_depth", "Requests waiting for the engine.", registry=registry)
        self.in_flight = Gauge(
            "router_engine_in_flight", "Requests holding an engine slot right now.", registry=registry
        )
        self.rejections = Counter(
            "router_admission_rejections_total",
            "Requests refused by admission control, by reason.",
            ["reason"],
            registry=registry,
        )
        self.wait_seconds = Histogram(
            "router_queue_wait_seconds",
            "Time admitted requests waited for an engine slot.",
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        for reason in REJECTION_REASONS:
            self.rejections.labels(reason=reason)


class Ticket:
    """One engine slot. `release` is idempotent, so a slot handed back early is not handed back twice."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self._started = time.monotonic()
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._admission._release(time.monotonic() - self._started)


class Admission:
    def __init__(
        self,
        *,
        max_concurrent: int,
        max_queued: int,
        max_wait_seconds: float,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.max_concurrent = max_concurrent
        self.max_queued = max_queued
        self.max_wait_seconds = max_wait_seconds
        self.metrics = AdmissionMetrics(registry or CollectorRegistry())
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._service_seconds = 1.0  # moving average of how long a slot is held; seeds Retry-After

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def estimated_wait(self) -> float:
        """Seconds until a newly queued request would likely get a slot."""
        return (self.queued + 1) * self._service_seconds / self.max_concurrent

    def reject(self, reason: str, status: int, message: str) -> Rejection:
        self.metrics.rejections.labels(reason=reason).inc()
        kind = "rate_limit_error" if status == 429 else "service_unavailable"
        return Rejection(status, message, kind, code=reason, retry_after=self.estimated_wait())

    async def acquire(self, deadline: float | None = None) -> Ticket:
        """Wait for a slot, FIFO, until the queue wait limit or the request's deadline."""
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            self.metrics.rejections.labels(reason="deadline").inc()
            raise DeadlineExceeded("deadline passed before the request reached the engine")
        if self.active < self.max_concurrent and not self._waiters:
            self.active += 1
            self._observe(0.0)
            return Ticket(self)
        if len(self._waiters) >= self.max_queued:
            raise self.reject(
                "queue_full",
                429,
                f"the server is at capacity: {self.active} requests running and {self.queued} waiting "
                f"(limit ROUTER_MAX_QUEUED_REQUESTS={self.max_queued}); retry later",
            )
        timeout, by_deadline = self.max_wait_seconds, False
        if deadline is not None and deadline - now < timeout:
            timeout, by_deadline = deadline - now, True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self.metrics.queue_depth.set(self.queued)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except BaseException as error:  # timed out, or the client went away while waiting
            if waiter.done() and not waiter.cancelled():
                self._release(None)  # the slot arrived just as we gave up: pass it on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            self.metrics.queue_depth.set(self.queued)
            if not isinstance(error, TimeoutError):
                raise
            waited = time.monotonic() - now
            if by_deadline:
                self.metrics.rejections.labels(reason="deadline").inc()
                raise DeadlineExceeded(f"deadline passed after {waited:.1f}s waiting in the queue") from None
            raise self.reject(
                "queue_timeout",
                503,
                f"no engine slot became free within {self.max_wait_seconds:g}s "
                f"(ROUTER_MAX_QUEUE_WAIT_SECONDS); the server is overloaded, retry later",
            ) from None
        self._observe(time.monotonic() - now)
        return Ticket(self)

    def _observe(self, waited: float) -> None:
        self.metrics.wait_seconds.observe(waited)
        self.metrics.in_flight.set(self.active)

    def _release(self, held_seconds: float | None) -> None:
        if held_seconds is not None:
            self._service_seconds = 0.8 * self._service_seconds + 0.2 * held_seconds
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # hand the slot straight to the next in line
                self.metrics.queue_depth.set(self.queued)
                return
        self.active -= 1
        self.metrics.queue_depth.set(self.queued)
        self.metrics.in_flight.set(self.active)
