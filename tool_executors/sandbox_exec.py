"""sandbox_exec: run a short Python program in a bubblewrap sandbox and return what it printed.

With `bwrap` (Debian package `bubblewrap`) each run gets:

Blocks
- network: a new, empty network namespace; nothing is reachable, the host's loopback included;
- other processes: a new pid namespace (the server and its environment are invisible), `--die-with-parent`;
- the host's files: only `/usr` (read-only) is mounted, plus `/proc`, a minimal `/dev`, and private tmpfs
  mounts for `/tmp` and the work directory `/sandbox` (64 MiB each); the workspace, `/etc`, `/home`,
  `/root` and the host's `/tmp` are not there at all;
- privileges: runs as an unprivileged uid (65534 by default) in a new user namespace, with an empty
  environment (`--clearenv`), no new user namespaces inside (`--disable-userns`), a new session (no TIOCSTI);
- resource abuse: rlimits on CPU time, address space (512 MiB), processes (RLIMIT_NPROC, enforced because
  the uid is not root), file size and open files; a wall-clock timeout (<= 30 s) that kills the whole tree;
  stdout and stderr capped (64 KiB each kept, the run killed past 1 MiB).

Does not block
- reading world-readable files under `/usr` (installed programs and libraries: no secrets by convention);
- CPU contention and cache side channels with the host; kernel exploits (the sandbox shares the host
  kernel: it is a namespace sandbox, not a VM; add seccomp or gVisor for hostile multi-tenant use);
- runs sharing the one sandbox uid share its RLIMIT_NPROC budget (runs are serialised, `max_concurrent`);
- memory held by the tmpfs mounts counts against the host, not the address-space rlimit (hence the caps).

Without `bwrap` the program runs directly with the same rlimits, an empty environment, a private temp
directory and (when the server is root) the unprivileged uid, but with the host's network and file
system visible. Every result then says so in `isolation_warning`, and `sandbox_status()` reports it for
the service's `/ready`.

The venv's interpreter may live where the sandbox uid cannot read (here under /root), so the sandbox runs
a system interpreter (`/usr/bin/python3` first): the standard library only, no project packages.
"""

from __future__ import annotations

import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from contract import SandboxExecArgs
from tool_executors.results import SandboxResult

WEAK_ISOLATION_WARNING = (
    "bubblewrap (bwrap) is not available: code runs with rlimits only, WITHOUT network, file-system or "
    "process isolation. Install it (apt-get install -y bubblewrap) before running untrusted code."
)
_INTERPRETER_CANDIDATES = ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3")


@dataclass(frozen=True)
class SandboxLimits:
    cpu_seconds: int = 30
    """RLIMIT_CPU per process; the wall-clock timeout is the tighter bound in practice."""
    memory_bytes: int = 512 << 20
    """RLIMIT_AS: address space per process."""
    max_processes: int = 32
    """RLIMIT_NPROC for the sandbox uid (bwrap itself uses three)."""
    file_size_bytes: int = 16 << 20
    """RLIMIT_FSIZE: the largest file the program may write."""
    open_files: int = 64
    tmpfs_bytes: int = 64 << 20
    """Size of each private tmpfs (/tmp and /sandbox)."""
    output_bytes: int = 64 << 10
    """stdout and stderr are each cut to this many bytes."""
    kill_output_bytes: int = 1 << 20
    """Past this much output in total the program is killed."""


@dataclass
class Sandbox:
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    uid: int = 65534
    """The unprivileged uid (and gid) the program runs as when the server is root."""
    bwrap: str | None = field(default_factory=lambda: shutil.which("bwrap"))
    interpreter: str | None = None
    """Python for the sandbox; None picks the first of /usr/bin/python3, ... that the uid can run."""
    max_concurrent: int = 1

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.max_concurrent)

    @property
    def isolation(self) -> str:
        return "bwrap" if self.bwrap else "rlimits-only"

    @cached_property
    def python(self) -> str:
        if self.interpreter:
            return self.interpreter
        for candidate in (*_INTERPRETER_CANDIDATES, sys.executable):
            if candidate and os.path.exists(candidate) and self._probe(candidate):
                return candidate
        raise RuntimeError("no Python interpreter the sandbox uid can run; set ROUTER_SANDBOX_PYTHON")

    def _probe(self, interpreter: str) -> bool:
        result = self._run_raw(interpreter, "print(6 * 7)", timeout=10)
        return result.exit_code == 0 and result.stdout.strip() == "42"

    def status(self) -> dict[str, object]:
        """What `/ready` reports: the isolation level, a loud warning when it is weak, the interpreter."""
        try:
            python, error = self.python, None
        except RuntimeError as exc:
            python, error = None, str(exc)
        return {
            "isolation": self.isolation,
            "bwrap": self.bwrap,
            "interpreter": python,
            "warning": None if self.bwrap else WEAK_ISOLATION_WARNING,
            "error": error,
        }

    def run(self, args: SandboxExecArgs) -> SandboxResult:
        try:
            python = self.python
        except RuntimeError as exc:
            return self._result(ok=False, error=str(exc))
        with self._slots:
            result = self._run_raw(python, args.code, timeout=args.timeout)
        if result.timed_out:
            result.error = f"timed out after {args.timeout} s (wall clock); the program was killed"
        elif result.truncated and result.exit_code is None:
            result.error = f"killed after printing more than {self.limits.kill_output_bytes} bytes"
        elif result.exit_code != 0:
            last = result.stderr.strip().splitlines()[-1:] or [f"exit code {result.exit_code}"]
            result.error = f"the program failed: {last[0]}"
        result.ok = result.error is None
        result.output = result.stdout if result.ok else (result.stdout + result.stderr)
        return result

    # -- internals ------------------------------------------------------------------------------

    def _result(self, **fields: object) -> SandboxResult:
        warning = None if self.bwrap else WEAK_ISOLATION_WARNING
        return SandboxResult(isolation=self.isolation, isolation_warning=warning, **fields)

    def _command(self, python: str, code: str) -> list[str]:
        run = [python, "-I", "-B", "-c", code]
        if not self.bwrap:
            return run
        tmpfs = str(self.limits.tmpfs_bytes)
        command = [
            self.bwrap, "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--disable-userns",
            # --as-pid-1: without it, unprivileged bwrap leaves a zombie per run under a host init that
            # does not reap (as in containers), and each zombie eats one of the uid's RLIMIT_NPROC slots.
            "--as-pid-1", "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/sandbox",
            "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONIOENCODING", "utf-8",
            "--ro-bind", "/usr", "/usr",
        ]
        for link, target in (("/bin", "usr/bin"), ("/sbin", "usr/sbin"), ("/lib", "usr/lib"),
                             ("/lib64", "usr/lib64")):
            if os.path.islink(link):
                command += ["--symlink", target, link]
            elif os.path.isdir(link):
                command += ["--ro-bind", link, link]
        prefix = Path(os.path.realpath(python)).parents[1]
        if not str(prefix).startswith("/usr"):
            command += ["--ro-bind", str(prefix), str(prefix)]
        command += ["--proc", "/proc", "--dev", "/dev", "--size", tmpfs, "--tmpfs", "/tmp",
                    "--size", tmpfs, "--tmpfs", "/sandbox", "--chdir", "/sandbox"]
        return command + run

    def _preexec(self, cpu_seconds: int):
        limits = self.limits

        def apply() -> None:
            for which, value in (
                (resource.RLIMIT_CPU, cpu_seconds),
                (resource.RLIMIT_AS, limits.memory_bytes),
                (resource.RLIMIT_NPROC, limits.max_processes),
                (resource.RLIMIT_FSIZE, limits.file_size_bytes),
                (resource.RLIMIT_NOFILE, limits.open_files),
                (resource.RLIMIT_CORE, 0),
            ):
                resource.setrlimit(which, (value, value))

        return apply

    def _run_raw(self, python: str, code: str, timeout: float) -> SandboxResult:
        is_root = os.geteuid() == 0
        workdir = None if self.bwrap else tempfile.mkdtemp(prefix="router-sandbox-")
        if workdir and is_root:
            os.chown(workdir, self.uid, self.uid)
        env = {} if self.bwrap else {"PATH": "/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8",
                                     "PYTHONIOENCODING": "utf-8"}
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                self._command(python, code),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=workdir or "/", env=env, start_new_session=True, close_fds=True,
                preexec_fn=self._preexec(min(self.limits.cpu_seconds, int(timeout) + 1)),
                **({"user": self.uid, "group": self.uid, "extra_groups": []} if is_root else {}),
            )
        except OSError as exc:
            return self._result(ok=False, error=f"could not start the sandbox: {exc}")
        try:
            stdout, stderr, truncated, timed_out, killed = self._collect(process, timeout)
        finally:
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)
        exit_code = None if (timed_out or killed) else process.returncode
        return self._result(
            ok=exit_code == 0, exit_code=exit_code, stdout=stdout, stderr=stderr, timed_out=timed_out,
            truncated=truncated, duration_ms=round((time.monotonic() - started) * 1000, 1),
        )

    def _collect(self, process: subprocess.Popen, timeout: float) -> tuple[str, str, bool, bool, bool]:
        """Read both pipes until exit, keeping `output_bytes` of each; kill on timeout or flood."""
        keep = self.limits.output_bytes
        kept = {process.stdout: bytearray(), process.stderr: bytearray()}
        seen = {process.stdout: 0, process.stderr: 0}
        timed_out = killed = False
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            for pipe in kept:
                selector.register(pipe, selectors.EVENT_READ)
            while selector.get_map() and not (timed_out or killed):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                for key, _ in selector.select(remaining):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    seen[key.fileobj] += len(chunk)
                    buffer = kept[key.fileobj]
                    buffer += chunk[: max(0, keep - len(buffer))]
                killed = sum(seen.values()) > self.limits.kill_output_bytes
        if timed_out or killed:
            _kill_group(process)
            self._wait_for_sandbox_exit()
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            # It closed its pipes but kept running past the deadline.
            _kill_group(process)
            process.wait()
            timed_out = True
        for pipe in kept:
            pipe.close()
        out, err = (bytes(b).decode("utf-8", "replace") for b in kept.values())
        truncated = any(count > keep for count in seen.values())
        return out, err, truncated, timed_out, killed


    def _wait_for_sandbox_exit(self, limit: float = 3.0) -> None:
        """After a kill the pid namespace dies asynchronously; its processes still hold RLIMIT_NPROC slots
        of the sandbox uid, so the next run would fail to start. Wait (briefly) until they are gone."""
        if os.geteuid() != 0:
            return
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and _live_processes(self.uid):
            time.sleep(0.02)


def _live_processes(uid: int) -> int:
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue
            with open(f"/proc/{name}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        count += state != b"Z"
    return count


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
