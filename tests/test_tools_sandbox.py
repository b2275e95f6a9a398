"""sandbox_exec under attack: each property the module docstring claims is tested here with bwrap.

.ci/run installs bubblewrap (apt-get install -y bubblewrap); without it these tests fail rather than
skip, because the weaker fallback must never pass for the real sandbox.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from contract import SandboxExecArgs
from tool_executors.sandbox_exec import WEAK_ISOLATION_WARNING, Sandbox, SandboxLimits


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    box = Sandbox()
    assert box.bwrap, "bubblewrap is not installed: apt-get install -y bubblewrap"
    return box


def run(box: Sandbox, code: str, timeout: int = 10):
    return box.run(SandboxExecArgs(code=code, timeout=timeout))


def test_plain_code_runs(sandbox: Sandbox) -> None:
    result = run(sandbox, "import math\nprint(math.factorial(20))")
    assert result.ok and result.stdout == "2432902008176640000\n"
    assert result.isolation == "bwrap" and result.isolation_warning is None
    assert sandbox.status()["warning"] is None


def test_a_failing_program_is_a_value(sandbox: Sandbox) -> None:
    result = run(sandbox, "raise ValueError('boom')")
    assert not result.ok and result.exit_code == 1 and "ValueError: boom" in result.error


def test_no_network_not_even_the_hosts_loopback(sandbox: Sandbox) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                accepted.append(server.accept())
            except (TimeoutError, OSError):
                pass

    thread = threading.Thread(target=accept)
    thread.start()
    code = f"""
import socket
for host in ("127.0.0.1", "::1", "10.0.2.2", "1.1.1.1"):
    try:
        socket.create_connection((host, {port}), timeout=1)
        print("CONNECTED", host)
    except OSError as exc:
        print("blocked", host, type(exc).__name__)
"""
    result = run(sandbox, code)
    thread.join()
    server.close()
    assert result.ok, result.error
    assert "CONNECTED" not in result.stdout and result.stdout.count("blocked") == 4
    assert accepted == []


def test_cannot_see_the_servers_environment(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = uuid.uuid4().hex
    monkeypatch.setenv("ROUTER_TEST_SECRET", secret)
    code = """
import os, glob
print(sorted(os.environ))
found = []
for path in glob.glob("/proc/*/environ"):
    try:
        found.append(open(path, "rb").read())
    except OSError:
        pass
print(len(glob.glob("/proc/[0-9]*")), b"".join(found).decode(errors="replace"))
"""
    result = run(sandbox, code)
    assert result.ok, result.error
    assert secret not in result.stdout and "ROUTER_TEST_SECRET" not in result.stdout
    assert "HOME" in result.stdout and "PATH" in result.stdout


def test_cannot_write_outside_its_directory(sandbox: Sandbox, tmp_path: Path) -> None:
    marker = f"router-sandbox-{uuid.uuid4().hex}"
    code = f"""
import os
results = {{}}
for path in ("/tmp/{marker}", "/usr/{marker}", "{tmp_path}/{marker}", "/{marker}", "/sandbox/ok.txt"):
    try:
        with open(path, "w") as fh:
            fh.write("x")
        results[path] = "written"
    except OSError as exc:
        results[path] = type(exc).__name__
print(results)
print(os.getuid(), os.path.exists("{tmp_path}"), os.path.exists("/root"), os.path.exists("/etc/passwd"))
"""
    result = run(sandbox, code)
    assert result.ok, result.error
    assert not Path("/tmp", marker).exists()  # the host's /tmp is untouched: the sandbox had its own
    assert not Path("/usr", marker).exists() and not (tmp_path / marker).exists()
    assert f"'/usr/{marker}': 'OSError'" in result.stdout or "PermissionError" in result.stdout
    assert "'/sandbox/ok.txt': 'written'" in result.stdout
    assert result.stdout.splitlines()[1] == "65534 False False False"


def test_fork_bomb_is_capped(sandbox: Sandbox) -> None:
    counting = """
import os, time
children = 0
for _ in range(500):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(3)
        os._exit(0)
    children += 1
print(children)
"""
    result = run(sandbox, counting)
    assert result.ok, result.error
    assert int(result.stdout) < SandboxLimits().max_processes
    started = time.monotonic()
    bomb = run(sandbox, "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", timeout=3)
    assert bomb.timed_out and not bomb.ok
    assert time.monotonic() - started < 8
    assert run(sandbox, "print('alive')").stdout == "alive\n"  # every bomb process is gone


def test_memory_bomb_of_8_gib_fails_inside(sandbox: Sandbox) -> None:
    result = run(sandbox, "x = bytearray(8 * 1024**3)\nprint(len(x))")
    assert not result.ok and "MemoryError" in result.error


def test_infinite_loop_hits_the_wall_clock(sandbox: Sandbox) -> None:
    started = time.monotonic()
    result = run(sandbox, "while True:\n    pass", timeout=2)
    elapsed = time.monotonic() - started
    assert result.timed_out and result.exit_code is None and "timed out after 2 s" in result.error
    assert 1.9 < elapsed < 5


def test_huge_output_is_capped_and_killed(sandbox: Sandbox) -> None:
    started = time.monotonic()
    result = run(sandbox, "while True:\n    print('x' * 100000)", timeout=20)
    assert result.truncated and not result.ok and "printing more than" in result.error
    assert len(result.stdout.encode()) <= SandboxLimits().output_bytes
    assert time.monotonic() - started < 10  # killed on the flood, not at the timeout
    small = run(sandbox, "print('y' * 100000)")
    assert small.ok and small.truncated and len(small.stdout) == SandboxLimits().output_bytes


def test_without_bwrap_the_warning_is_loud() -> None:
    weak = Sandbox(bwrap=None)
    result = weak.run(SandboxExecArgs(code="import os\nprint(sorted(os.environ))", timeout=10))
    assert result.ok and result.isolation == "rlimits-only"
    assert result.isolation_warning == WEAK_ISOLATION_WARNING
    assert weak.status()["warning"] == WEAK_ISOLATION_WARNING
    assert "ROUTER" not in result.stdout and os.environ.get("PATH", "") not in ("", result.stdout)
