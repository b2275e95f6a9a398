"""Run generated sandbox programs at generation time: only code that exits 0 and prints is kept."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


@dataclass(frozen=True)
class RunResult:
    ok: bool
    stdout: str
    error: str = ""
    timed_out: bool = False


def run_program(code: str, timeout: float = 10.0) -> RunResult:
    """Execute `code` in a fresh isolated interpreter (-I: no site dir, no env vars) in a temp dir."""
    with tempfile.TemporaryDirectory(prefix="datagen-sbx-") as cwd:
        try:
            proc = subprocess.run(
                [sys.executable, "-I", "-c", code], cwd=cwd, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return RunResult(False, "", f"timed out after {timeout:g} s", timed_out=True)
    if proc.returncode != 0:
        return RunResult(False, proc.stdout, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else
                         f"exit code {proc.returncode}")
    if not proc.stdout.strip():
        return RunResult(False, "", "program printed nothing")
    return RunResult(True, proc.stdout)


def run_many(codes: list[str], timeout: float = 10.0, workers: int = 2, progress: bool = False) -> dict[str, RunResult]:
    """Run each distinct program once; returns {code: result}."""
    unique = list(dict.fromkeys(codes))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda c: run_program(c, timeout), unique)
        if progress:
            from tqdm import tqdm

            results = tqdm(results, total=len(unique), desc="sandbox programs", unit="prog")
        return dict(zip(unique, results))
