"""Helpers for the deploy tests: start a real server process and wait until it answers."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx


def start_process(command: list[str], ready_url: str, log: Path, timeout: float = 120) -> subprocess.Popen:
    """Run `command` with output to `log`; return once GET `ready_url` answers 200."""
    process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, f"{command[0]} exited:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{command[0]} not ready after {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
