"""Admission control and the engine supervisor: bounds, rejections, deadlines, faults and reloads."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry

from contract import build_messages, grammar_json_schema
from service.admission import Admission
from service.engines import DeadlineExceeded, EngineError, GenerationRequest
from service.errors import Rejection
from service.limits import request_deadline
from service.supervisor import EngineSupervisor
from tests.hardening_fakes import FakeEngine, FaultyEngine, wait_until


def _request(**kwargs) -> GenerationRequest:
    return GenerationRequest(build_messages("what is 2+2?"), grammar_json_schema(), max_tokens=64, **kwargs)


def _sample(registry: CollectorRegistry, name: str, **labels) -> float:
    value = registry.get_sample_value(name, labels or None)
    return 0.0 if value is None else value


async def _hold(admission: Admission, seconds: float, log: list, name: str, deadline: float | None = None):
    ticket = await admission.acquire(deadline)
    log.append(("start", name, admission.active))
    await asyncio.sleep(seconds)
    ticket.release()


def test_concurrency_is_bounded_and_the_queue_is_fifo():
    async def run():
        registry = CollectorRegistry()
        admission = Admission(max_concurrent=2, max_queued=10, max_wait_seconds=5, registry=registry)
        log: list = []
        await asyncio.gather(*(_hold(admission, 0.05, log, f"r{i}") for i in range(6)))
        assert [name for _, name, _ in log] == [f"r{i}" for i in range(6)], "FIFO"
        assert max(active for *_, active in log) == 2
        assert admission.active == 0 and admission.queued == 0
        assert _sample(registry, "router_queue_wait_seconds_count") == 6
        assert _sample(registry, "router_queue_wait_seconds_sum") > 0.05  # the last four waited

    asyncio.run(run())


def test_a_full_queue_answers_429_with_retry_after_and_counts_it():
    async def run():
        registry = CollectorRegistry()
        admission = Admission(max_concurrent=1, max_queued=2, max_wait_seconds=5, registry=registry)
        log: list = []
        holders = [asyncio.create_task(_hold(admission, 0.2, log, f"r{i}")) for i in range(3)]
        await wait_until(lambda: admission.queued == 2)
        assert _sample(registry, "router_queue_depth") == 2
        with pytest.raises(Rejection) as caught:
            await admission.acquire()
        assert caught.value.status == 429 and caught.value.code == "queue_full"
        assert "ROUTER_MAX_QUEUED_REQUESTS=2" in caught.value.message
        assert int(caught.value.headers["Retry-After"]) >= 1
        assert _sample(registry, "router_admission_rejections_total", reason="queue_full") == 1
        await asyncio.gather(*holders)
        assert len(log) == 3 and admission.active == 0

    asyncio.run(run())


def test_a_long_wait_answers_503_and_an_own_deadline_504():
    async def run():
        registry = CollectorRegistry()
        admission = Admission(max_concurrent=1, max_queued=5, max_wait_seconds=0.1, registry=registry)
        ticket = await admission.acquire()
        started = time.monotonic()
        with pytest.raises(Rejection) as caught:
            await admission.acquire()
        assert caught.value.status == 503 and caught.value.code == "queue_timeout"
        assert "Retry-After" in caught.value.headers
        assert 0.09 < time.monotonic() - started < 1.0
        with pytest.raises(DeadlineExceeded):
            await admission.acquire(deadline=time.monotonic() + 0.03)
        with pytest.raises(DeadlineExceeded):
            await admission.acquire(deadline=time.monotonic() - 1)  # already past: refused at once
        assert _sample(registry, "router_admission_rejections_total", reason="deadline") == 2
        assert admission.queued == 0, "timed-out waiters leave the queue"
        ticket.release()
        ticket.release()  # idempotent
        assert admission.active == 0

    asyncio.run(run())


def test_a_waiter_that_goes_away_leaks_no_slot():
    async def run():
        admission = Admission(max_concurrent=1, max_queued=5, max_wait_seconds=5)
        ticket = await admission.acquire()
        waiter = asyncio.create_task(admission.acquire())
        await wait_until(lambda: admission.queued == 1)
        waiter.cancel()  # the client disconnected while queued
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert admission.queued == 0
        ticket.release()
        assert admission.active == 0
        again = await asyncio.wait_for(admission.acquire(), 1)
        again.release()

    asyncio.run(run())


def _supervisor(engine, *, factory=None, health=None, admission=None, **overrides) -> EngineSupervisor:
    options = dict(default_timeout=5.0, max_timeout=10.0, hang_seconds=0.3, failure_threshold=2)
    options.update(overrides)
    health = health if health is not None else []
    return EngineSupervisor(
        engine,
        admission=admission or Admission(max_concurrent=2, max_queued=8, max_wait_seconds=5),
        factory=factory or FakeEngine,
        on_health=lambda ok, why: health.append((ok, why)),
        registry=CollectorRegistry(),
        **options,
    )


def test_every_call_gets_a_deadline_within_the_maximum():
    supervisor = _supervisor(FakeEngine())
    now = time.monotonic()
    assert now + 4.9 < supervisor.with_deadline(_request()).deadline <= time.monotonic() + 5.0
    token = request_deadline.set(now + 2.0)  # what RequestLimits sets from X-Request-Timeout
    try:
        assert supervisor.with_deadline(_request()).deadline == now + 2.0
    finally:
        request_deadline.reset(token)
    capped = supervisor.with_deadline(_request(deadline=now + 999)).deadline
    assert capped <= time.monotonic() + 10.0


def test_a_slow_engine_is_stopped_at_the_deadline():
    async def run():
        engine = FakeEngine(delay=5.0)
        supervisor = _supervisor(engine)
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            await supervisor.generate(_request(deadline=time.monotonic() + 0.1))
        assert time.monotonic() - started < 1.0
        await wait_until(lambda: supervisor.admission.active == 0)
        assert supervisor.healthy, "a deadline is the request's fault, not the engine's"

    asyncio.run(run())


def test_the_servers_own_default_deadline_running_out_is_overload_503_not_504():
    async def run():
        supervisor = _supervisor(FakeEngine(delay=5.0), default_timeout=0.1)
        with pytest.raises(Rejection) as caught:
            await supervisor.generate(_request())
        assert caught.value.status == 503 and caught.value.code == "server_timeout"
        assert (
            "ROUTER_REQUEST_TIMEOUT_SECONDS" in caught.value.message and "Retry-After" in caught.value.headers
        )
        with pytest.raises(Rejection) as streamed:
            async for _ in supervisor.stream(_request()):
                pass
        assert streamed.value.code == "server_timeout"

    asyncio.run(run())


def test_engine_failures_answer_503_then_the_watchdog_reloads_it():
    async def run():
        health: list = []
        fresh = FakeEngine()
        broken = FaultyEngine(FakeEngine(), fail=5)
        supervisor = _supervisor(broken, factory=lambda: fresh, health=health)
        with pytest.raises(Rejection) as first:
            await supervisor.generate(_request())
        assert first.value.status == 503 and first.value.code == "engine_failure"
        assert "injected fault" in first.value.message
        assert supervisor.healthy, "one failure is below the threshold of 2"
        with pytest.raises(Rejection):
            await supervisor.generate(_request())
        assert not supervisor.healthy and health[0][0] is False and "2 failures" in health[0][1]
        with pytest.raises(Rejection) as meanwhile:  # refused while the engine is rebuilt
            await supervisor.generate(_request())
        assert meanwhile.value.status == 503 and meanwhile.value.code == "engine_unavailable"
        await wait_until(lambda: supervisor.healthy)
        assert health[-1] == (True, None)
        assert supervisor.engine is fresh and fresh.warmed
        assert (await supervisor.generate(_request())).text.startswith('{"status"')
        assert fresh.calls == 1

    asyncio.run(run())


def test_request_errors_do_not_count_as_engine_faults():
    class Invalid(FakeEngine):
        def _run(self, request):
            raise EngineError("the model's output is not a valid decision")

    async def run():
        supervisor = _supervisor(Invalid(), failure_threshold=1)
        for _ in range(3):
            with pytest.raises(EngineError):
                await supervisor.generate(_request())
        assert supervisor.healthy

    asyncio.run(run())


def test_a_hung_engine_is_abandoned_and_replaced():
    async def run():
        health: list = []
        hung = FaultyEngine(FakeEngine(), hang=1)
        admission = Admission(max_concurrent=1, max_queued=8, max_wait_seconds=5)
        supervisor = _supervisor(hung, factory=FakeEngine, health=health, admission=admission)
        started = time.monotonic()
        try:
            with pytest.raises(Rejection) as caught:
                await supervisor.generate(_request(deadline=time.monotonic() + 0.2))
            assert caught.value.status == 503 and caught.value.code == "engine_hung"
            assert 0.45 < time.monotonic() - started < 2.0, "deadline 0.2 s + hang allowance 0.3 s"
            assert admission.active == 0, "the hung call's slot was handed back"
            await wait_until(lambda: supervisor.healthy)
            assert supervisor.engine is not hung
            assert (await supervisor.generate(_request())).finish_reason == "stop"
            assert not hung.inner.closed, "a hung engine is never closed (its lock is held)"
        finally:
            hung.unblock.set()

    asyncio.run(run())


def test_streams_are_admitted_and_watched_too():
    async def run():
        admission = Admission(max_concurrent=1, max_queued=0, max_wait_seconds=5)
        supervisor = _supervisor(FakeEngine(delay=0.05), admission=admission)
        pieces = supervisor.stream(_request())
        first = await pieces.__anext__()
        assert first.startswith('{"status"')
        with pytest.raises(Rejection) as caught:  # the one slot is held by the open stream
            await supervisor.generate(_request())
        assert caught.value.status == 429
        rest = [piece async for piece in pieces]
        assert [type(piece).__name__ for piece in rest] == ["Generation"], (
            "the engine's stream passes through"
        )
        assert admission.active == 0

    asyncio.run(run())
