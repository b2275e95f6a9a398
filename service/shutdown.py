"""Run the app under uvicorn with a graceful SIGTERM: stop accepting, drain, exit 0.

On SIGTERM (or SIGINT) uvicorn closes its listening sockets, lets in-flight requests finish for up to
`ROUTER_SHUTDOWN_GRACE_SECONDS`, cancels what is left, then runs the app's shutdown. On top of that:

- /ready turns false at the signal, so a load balancer stops sending traffic while requests drain;
- uvicorn re-raises the signal it caught once it is done, which would end the process with 143; a
  no-op SIGTERM handler absorbs it so a clean drain exits 0;
- a thread the engine supervisor abandoned (a hung native call) must not keep the process alive.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading

import uvicorn
from fastapi import FastAPI

from service.settings import Settings

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    """A uvicorn server that marks the app not ready as soon as a shutdown signal arrives."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame) -> None:
        if not self.should_exit:
            log.warning("signal %s: draining in-flight requests, then exiting", signal.Signals(sig).name)
            try:  # a signal handler must not take locks (the metrics gauge has one): defer to the loop
                asyncio.get_running_loop().call_soon_threadsafe(self._stop_being_ready)
            except RuntimeError:
                pass
        super().handle_exit(sig, frame)

    def _stop_being_ready(self) -> None:
        service = getattr(self._app.state, "service", None)
        if service is not None:
            service.set_health(False, "shutting down")


def serve(app: FastAPI, settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT; returns (exit status 0) once the drain is over."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    previous = signal.signal(signal.SIGTERM, _absorb)
    try:
        DrainingServer(config, app).run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    stuck = [
        t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive() and not t.daemon
    ]
    if stuck:
        for thread in stuck:
            thread.join(timeout=1.0)
        if any(thread.is_alive() for thread in stuck):
            log.warning("exiting with %d engine thread(s) still busy (abandoned after a hang)", len(stuck))
            logging.shutdown()
            os._exit(0)


def _absorb(sig: int, frame) -> None:
    """Runs when uvicorn re-raises the SIGTERM it already handled: nothing left to do."""
