"""The guards over HTTP, on the real app with a fake engine: auth, limits, overload, deadlines, faults."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from service.app import create_app
from service.settings import load_settings
from tests.hardening_fakes import FakeEngine, FaultyEngine, started, wait_until

KEY_A = "key-a-0123456789abcdef"
KEY_B = "key-b-0123456789abcdef"
QUERY = {"query": "what is 2+2?"}


def _app(engine=None, **settings):
    return create_app(load_settings(**settings), engine=engine or FakeEngine())


def _run(coroutine_function):
    return asyncio.run(coroutine_function())


def _error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    if code is not None:
        assert error["code"] == code, error
    return error


# --- authentication --------------------------------------------------------------------------


def test_keys_from_settings_and_file_are_required_except_on_public_paths(tmp_path):
    key_file = tmp_path / "keys"
    key_file.write_text(f"# ops team\n{KEY_B}\n\n")

    async def run():
        app = _app(api_keys=KEY_A, api_keys_file=key_file)
        async with await started(app) as client:
            missing = await client.post("/route", json=QUERY)
            _error(missing, 401, "missing_api_key")
            assert missing.headers["WWW-Authenticate"] == "Bearer"
            _error(
                await client.post(
                    "/route", json=QUERY, headers={"Authorization": "Bearer wrong-key-0123456789"}
                ),
                401,
                "invalid_api_key",
            )
            _error(
                await client.post("/route", json=QUERY, headers={"Authorization": f"Basic {KEY_A}"}),
                401,
                "invalid_authorization",
            )
            for key in (KEY_A, KEY_B):
                answer = await client.post("/route", json=QUERY, headers={"Authorization": f"Bearer {key}"})
                assert answer.status_code == 200, answer.text
            for path in ("/health", "/ready", "/metrics"):
                assert (await client.get(path)).status_code == 200, path
            assert (await client.get("/openapi.json")).status_code == 401
            metrics = (await client.get("/metrics")).text
            assert 'router_auth_rejections_total{reason="missing_api_key"} 2.0' in metrics
            assert KEY_A not in metrics

    _run(run)


def test_public_paths_can_be_closed():
    async def run():
        async with await started(_app(api_keys=KEY_A, public_paths="/health")) as client:
            assert (await client.get("/health")).status_code == 200
            _error(await client.get("/metrics"), 401, "missing_api_key")
            assert (
                await client.get("/metrics", headers={"Authorization": f"Bearer {KEY_A}"})
            ).status_code == 200

    _run(run)


def test_per_key_rate_limit_answers_429_with_retry_after():
    async def run():
        app = _app(api_keys=f"{KEY_A},{KEY_B}", rate_limit_per_minute=60, rate_limit_burst=2)
        async with await started(app) as client:
            a = {"Authorization": f"Bearer {KEY_A}"}
            codes = [(await client.post("/route", json=QUERY, headers=a)).status_code for _ in range(3)]
            assert codes == [200, 200, 429]
            limited = await client.post("/route", json=QUERY, headers=a)
            assert "ROUTER_RATE_LIMIT_PER_MINUTE" in _error(limited, 429, "rate_limited")["message"]
            assert 1 <= int(limited.headers["Retry-After"]) <= 2
            other = await client.post("/route", json=QUERY, headers={"Authorization": f"Bearer {KEY_B}"})
            assert other.status_code == 200, "each key has its own bucket"

    _run(run)


def test_an_open_service_warns_loudly_at_start_up(caplog):
    with caplog.at_level(logging.WARNING):
        _app()
    assert any("NO API KEY CONFIGURED" in record.getMessage() for record in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _app(api_keys=KEY_A)
    assert not any("NO API KEY" in record.getMessage() for record in caplog.records)


# --- limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code", "names"),
    [
        ({"query": "x" * 8001}, 422, None, "at most 8000 characters"),
        (
            {"messages": [{"role": "user", "content": "hi"}] * 65},
            400,
            "too_many_messages",
            "ROUTER_MAX_MESSAGES",
        ),
        ({"query": "hi", "max_tokens": 100_000}, 400, "max_tokens_too_large", "ROUTER_MAX_TOKENS"),
        ({"query": "hi", "timeout": 10_000}, 400, "timeout_too_large", "ROUTER_MAX_REQUEST_TIMEOUT_SECONDS"),
        ({"query": "hi", "timeout": -1}, 400, "invalid_timeout", "positive"),
        ({"query": "hi", "timeout": "soon"}, 400, "invalid_timeout", "number of seconds"),
    ],
)
def test_each_limit_is_a_4xx_that_names_it(body, status, code, names):
    async def run():
        async with await started(_app()) as client:
            assert names in _error(await client.post("/route", json=body), status, code)["message"]

    _run(run)


def test_deep_json_huge_numbers_and_big_bodies_are_refused_before_parsing():
    async def run():
        async with await started(_app(max_json_depth=8)) as client:
            deep = '{"query": "hi", "context": ' + "[" * 5000 + "]" * 5000 + "}"
            error = _error(
                await client.post("/route", content=deep, headers={"content-type": "application/json"}),
                400,
                "json_too_deep",
            )
            assert "ROUTER_MAX_JSON_DEPTH" in error["message"] and "5001" in error["message"]
            brackets_in_strings = {"query": "[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{ is fine inside a string"}
            assert (await client.post("/route", json=brackets_in_strings)).status_code == 200
            huge = '{"query": "hi", "n": ' + "9" * 5000 + "}"
            _error(
                await client.post("/route", content=huge, headers={"content-type": "application/json"}), 400
            )

            async def chunks():  # no Content-Length: the cap applies while the body streams in
                for _ in range(100):
                    yield b" " * 1024

            _error(await client.post("/route", content=chunks()), 413)
            _error(await client.post("/route", content=b" " * 70_000), 413)

    _run(run)


# --- admission, deadlines, faults -------------------------------------------------------------


def test_overload_is_answered_429_or_503_with_retry_after_and_never_hangs():
    async def run():
        engine = FakeEngine(delay=0.3)
        app = _app(engine, max_concurrent_requests=1, max_queued_requests=2, max_queue_wait_seconds=0.5)
        async with await started(app) as client:
            started_at = time.monotonic()
            answers = await asyncio.gather(*(client.post("/route", json=QUERY) for _ in range(8)))
            elapsed = time.monotonic() - started_at
            codes = sorted(answer.status_code for answer in answers)
            assert set(codes) <= {200, 429, 503} and codes.count(200) >= 2 and codes.count(429) >= 4, codes
            for answer in answers:
                if answer.status_code != 200:
                    assert int(answer.headers["Retry-After"]) >= 1
            assert engine.peak == 1, "one engine request at a time"
            assert elapsed < 3.0
            metrics = (await client.get("/metrics")).text
            assert 'router_admission_rejections_total{reason="queue_full"}' in metrics
            assert "router_queue_wait_seconds_count" in metrics and "router_queue_depth 0.0" in metrics

    _run(run)


def test_a_request_past_its_deadline_is_cancelled_and_answered_504():
    async def run():
        engine = FakeEngine(delay=3.0)
        async with await started(_app(engine)) as client:
            for kwargs in (
                {"headers": {"X-Request-Timeout": "0.2"}, "json": QUERY},
                {"json": QUERY | {"timeout": 0.2}},
            ):
                before = time.monotonic()
                answer = await client.post("/route", **kwargs)
                assert "deadline" in _error(answer, 504, "deadline_exceeded")["message"]
                assert time.monotonic() - before < 1.5
            await wait_until(lambda: engine.active == 0, timeout=2)  # the engine really stopped

    _run(run)


def test_the_default_deadline_sheds_load_with_503():
    async def run():
        engine = FakeEngine(delay=3.0)
        async with await started(_app(engine, request_timeout_seconds=0.2)) as client:
            answer = await client.post("/route", json=QUERY)
            assert "ROUTER_REQUEST_TIMEOUT_SECONDS" in _error(answer, 503, "server_timeout")["message"]
            assert int(answer.headers["Retry-After"]) >= 1
            asked = await client.post("/route", json=QUERY, headers={"X-Request-Timeout": "0.2"})
            _error(asked, 504, "deadline_exceeded")

    _run(run)


def test_a_hung_engine_turns_ready_false_and_is_reloaded_without_restart():
    async def run():
        hung = FaultyEngine(FakeEngine(), hang=1)
        app = _app(hung, engine_hang_seconds=0.3)
        reloads = []
        app.state.service.engine_factory = lambda: reloads.append(1) or FakeEngine()
        try:
            async with await started(app) as client:
                answer = await client.post("/route", json=QUERY, headers={"X-Request-Timeout": "0.2"})
                assert "hung" in _error(answer, 503, "engine_hung")["message"]
                assert "Retry-After" in answer.headers
                await wait_until(lambda: reloads, timeout=5)
                await wait_until(lambda: app.state.service.ready, timeout=5)
                assert (await client.get("/ready")).json()["ready"] is True
                assert (await client.post("/route", json=QUERY)).status_code == 200
                metrics = (await client.get("/metrics")).text
                assert 'router_engine_faults_total{kind="hang"} 1.0' in metrics
                assert 'router_engine_reloads_total{outcome="ok"} 1.0' in metrics
        finally:
            hung.unblock.set()

    _run(run)


def test_a_failing_engine_answers_503_and_ready_stays_false_until_a_reload_works():
    async def run():
        app = _app(FaultyEngine(FakeEngine(), fail=10), engine_failure_threshold=1)
        attempts = []

        def factory():
            attempts.append(1)
            if len(attempts) == 1:
                raise OSError("model file is being replaced")
            return FakeEngine()

        app.state.service.engine_factory = factory
        async with await started(app) as client:
            answer = await client.post("/route", json=QUERY)
            assert "injected fault" in _error(answer, 503, "engine_failure")["message"]
            ready = await client.get("/ready")
            assert ready.status_code == 503 and "engine" in ready.json()["error"]
            _error(await client.post("/route", json=QUERY), 503, "engine_unavailable")
            await wait_until(lambda: app.state.service.ready, timeout=5)  # second attempt, after 1 s backoff
            assert len(attempts) == 2
            assert (await client.post("/route", json=QUERY)).status_code == 200

    _run(run)
