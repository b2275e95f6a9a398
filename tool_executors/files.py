"""Walking the workspace the way `git` and ripgrep see it: hidden entries skipped, `.gitignore` respected.

`file_pattern` globs use the same gitignore-style rules as ripgrep's `--glob`: `*.py` matches at any depth,
`src/**/*.py` or `src/*.py` is anchored at the workspace root.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

MAX_TEXT_BYTES = 512 << 10
"""Files larger than this are not searched (minified bundles, data dumps)."""


@lru_cache(maxsize=256)
def _spec(lines: tuple[str, ...]):
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def pattern_matcher(file_pattern: str | None):
    """A predicate on workspace-relative POSIX paths; everything matches when `file_pattern` is None."""
    if not file_pattern:
        return lambda _path: True
    spec = _spec((file_pattern,))
    return spec.match_file


def walk_files(root: Path, file_pattern: str | None = None) -> Iterator[str]:
    """Workspace-relative paths of regular files, sorted, minus hidden and git-ignored ones."""
    matches = pattern_matcher(file_pattern)
    ignores: list[tuple[str, object]] = []  # (directory prefix, spec) for every .gitignore seen

    def ignored(rel: str, is_dir: bool) -> bool:
        probe = rel + "/" if is_dir else rel
        for prefix, spec in ignores:
            if probe.startswith(prefix) and spec.match_file(probe[len(prefix):]):
                return True
        return False

    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        if ".gitignore" in filenames:
            try:
                lines = tuple(Path(dirpath, ".gitignore").read_text(errors="replace").splitlines())
                ignores.append((prefix, _spec(lines)))
            except OSError:
                pass
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and not os.path.islink(os.path.join(dirpath, d))
                             and not ignored(prefix + d, True))
        for name in sorted(filenames):
            rel = prefix + name
            if name.startswith(".") or ignored(rel, False) or not matches(rel):
                continue
            if os.path.isfile(os.path.join(dirpath, name)) and not os.path.islink(os.path.join(dirpath, name)):
                yield rel


def read_text(path: Path) -> str | None:
    """The file's text, or None when it is binary, too large or unreadable."""
    try:
        if path.stat().st_size > MAX_TEXT_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
