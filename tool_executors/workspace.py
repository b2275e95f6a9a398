"""The workspace: the one directory tree the executors may touch, rooted at `ROUTER_WORKSPACE`.

`resolve` is the single gate every path goes through. It refuses absolute paths, `~`, `..` segments and
any path whose real location (after following symlinks) is outside the root. What it cannot close is a
race: a component swapped for a symlink between the check and the use. Callers narrow that window by
opening with `O_NOFOLLOW` and checking the opened file with `fstat`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


class WorkspaceError(ValueError):
    """A path the workspace refuses; the message says why."""


@dataclass(frozen=True)
class Workspace:
    root: Path

    def __post_init__(self) -> None:
        real = Path(os.path.realpath(self.root))
        if not real.is_dir():
            raise WorkspaceError(f"workspace root {str(self.root)!r} is not a directory")
        object.__setattr__(self, "root", real)

    @classmethod
    def from_env(cls, default: str | os.PathLike[str] = ".") -> Workspace:
        return cls(Path(os.environ.get("ROUTER_WORKSPACE") or default))

    def resolve(self, relative: str) -> Path:
        """The real absolute path of `relative`, or WorkspaceError if it would leave the workspace."""
        if not relative or "\x00" in relative:
            raise WorkspaceError("path is empty or contains a NUL byte")
        if relative.startswith(("/", "\\", "~")) or os.path.isabs(relative):
            raise WorkspaceError(f"path {relative!r} is absolute; give a path relative to the workspace")
        parts = PurePosixPath(relative).parts
        if ".." in parts or ".." in relative.split("/"):
            raise WorkspaceError(f"path {relative!r} contains '..'; paths must stay inside the workspace")
        real = Path(os.path.realpath(self.root / relative))
        if not self.contains(real):
            raise WorkspaceError(f"path {relative!r} resolves outside the workspace (through a symlink)")
        return real

    def contains(self, real: Path) -> bool:
        return real == self.root or self.root in real.parents

    def relative(self, real: Path) -> str:
        rel = real.relative_to(self.root).as_posix()
        return rel or "."
