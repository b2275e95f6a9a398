"""`router serve`, `router route "text"` and `router bench`."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated, Optional

import typer

from service.settings import SettingsError, load_settings, unknown_variables


def _settings_or_exit(**overrides):
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


def serve(
    host: Annotated[Optional[str], typer.Option(help="Bind address [env ROUTER_HOST; default 127.0.0.1]")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port [env ROUTER_PORT; default 8000]")] = None,
) -> None:
    """Serve the router over HTTP (POST /route, /health, /ready, /metrics)."""
    from service.app import create_app
    from service.shutdown import serve as serve_app

    settings = _settings_or_exit(host=host, port=port)
    if unknown := unknown_variables():
        typer.echo(f"warning: ignoring {', '.join(unknown)}: no such setting (a typo?)", err=True)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Graceful SIGTERM: /ready false, drain in-flight for ROUTER_SHUTDOWN_GRACE_SECONDS, exit 0.
    serve_app(create_app(settings), settings)


def route(
    query: Annotated[str, typer.Argument(help="The request to route.")],
    context: Annotated[Optional[str], typer.Option(help="Extra context for the request.")] = None,
    reasoning: Annotated[bool, typer.Option(help="Include a one-line thought.")] = True,
) -> None:
    """Route one request in-process (no server) and print the decision as JSON."""
    from contract import dump_decision
    from service.engines import create_engine
    from service.routing import Router

    settings = _settings_or_exit()

    async def run() -> str:
        engine = create_engine(settings)
        try:
            # The router as served: the guards and the decision prior, not the bare model.
            router = Router.from_settings(engine, settings)
            result = await router.route(query, context=context, reasoning=reasoning)
        finally:
            await engine.close()
        return dump_decision(result.decision)

    typer.echo(asyncio.run(run()))


def bench(
    url: Annotated[Optional[str], typer.Option(help="Benchmark a running server instead of in-process.")] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Passes over the query list.")] = 3,
    out: Annotated[Optional[str], typer.Option(help="Also write the results as JSON here.")] = None,
) -> None:
    """Measure /route p50/p95 against the floor: plain generation of as many tokens from the same prompt."""
    from service.benchmark import run_benchmark

    settings = _settings_or_exit()
    report = run_benchmark(settings, url=url, repeats=repeats)
    typer.echo(report.table())
    if out:
        with open(out, "w") as handle:
            json.dump(report.as_dict(), handle, indent=2)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(route)
    app.command()(bench)
