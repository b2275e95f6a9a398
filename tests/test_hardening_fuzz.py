"""schemathesis over the OpenAPI schema of every endpoint: no server error, every response documented.

Runs every built-in check (status codes and headers documented, bodies matching their schemas, content
types, ...) except `not_a_server_error`, replaced by a stricter reading of it: a 5xx is a failure unless
it is a 504 for a request that itself asked for a deadline too short to serve (that is the contract).
"""

from __future__ import annotations

import asyncio

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from service.app import create_app
from service.settings import load_settings
from tests.hardening_fakes import FakeEngine

MAX_EXAMPLES = 100
APP = create_app(load_settings(), engine=FakeEngine())
# Invalid input may also be refused as 413 (over the body cap). Valid input may meet a 400 that names a
# condition the schema cannot express (a prompt longer than the context window, a disabled feature).
CONFIG = SchemathesisConfig.from_str("""
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
""")
asyncio.run(APP.state.service.start())  # ready now, whatever schemathesis does with the app's lifespan
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


def _asked_timeout(case) -> float | None:
    header = (case.headers or {}).get("X-Request-Timeout")
    body = case.body.get("timeout") if isinstance(case.body, dict) else None
    values = [
        float(v) for v in (header, body) if isinstance(v, (int, float, str)) and not isinstance(v, bool)
    ]
    return min(values) if values else None


def no_unexplained_server_error(ctx, response, case) -> None:
    if response.status_code < 500:
        return
    asked = _asked_timeout(case)
    explained = response.status_code == 504 and asked is not None and asked < 2.0
    assert explained, f"server error {response.status_code}: {response.text[:300]}"


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_endpoint_survives_fuzzing(case):
    case.call_and_validate(
        excluded_checks=[not_a_server_error], additional_checks=[no_unexplained_server_error]
    )
