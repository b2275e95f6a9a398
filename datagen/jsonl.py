"""JSONL files that lose nothing: append line by line, flush and fsync, resume after a crash.

A crash can at worst leave a partial last line (no newline); `read_rows` with `repair=True` cuts it off,
so a resumed run appends after the last complete row: no gaps, no duplicates.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def dumps(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def read_rows(path: str | Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """All complete rows. A torn last line is an error unless `repair`, which truncates it away."""
    p = Path(path)
    if not p.exists():
        return []
    data = p.read_bytes()
    rows: list[dict[str, Any]] = []
    good_end = 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{p}: line {len(rows) + 1} is not valid JSON ({e.msg}); fix or remove it") from e
        good_end += len(line)
    if good_end < len(data):
        if not repair:
            raise ValueError(f"{p}: the last line is incomplete (an interrupted write?); resume to repair it")
        with open(p, "r+b") as f:
            f.truncate(good_end)
    return rows


def iter_rows(path: str | Path) -> Iterator[dict[str, Any]]:
    yield from read_rows(path)


class Appender:
    """Append rows durably: each row is one write of a full line, flushed and fsynced."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        self._f.write(dumps(row) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> Appender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_rows(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write a whole file atomically (temp file + rename)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(dumps(row) + "\n")
            n += 1
    os.replace(tmp, p)
    return n
