"""Runs tests/vllm_env/check_vllm_objects.py inside .venv-vllm, the environment with the real vLLM.

vLLM pins its own torch, so it lives in a separate venv made by .ci/vllm-env (idempotent: a no-op once
made; about a minute the first time). This test makes sure that environment exists, then runs the checks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_vllm_request_objects_against_the_real_package():
    made = subprocess.run([str(ROOT / ".ci" / "vllm-env")], cwd=ROOT, capture_output=True, text=True)
    assert made.returncode == 0, f".ci/vllm-env failed:\n{made.stdout}\n{made.stderr}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("VIRTUAL_ENV", None)
    run = subprocess.run(
        [
            str(ROOT / ".venv-vllm" / "bin" / "python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/vllm_env/check_vllm_objects.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    sys.stdout.write(run.stdout[-4000:])
    assert run.returncode == 0, f"vLLM checks failed:\n{run.stdout[-8000:]}\n{run.stderr[-4000:]}"
    assert " passed" in run.stdout and "failed" not in run.stdout
