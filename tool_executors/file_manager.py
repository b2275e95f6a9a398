"""file_manager: list, read, write and patch files inside the workspace.

Refuses absolute paths, `..`, symlinks that resolve outside the workspace, devices, FIFOs, sockets and
other non-regular files, files over the size cap and binary files. Writes are atomic: a temporary file in
the same directory, fsync, rename, fsync of the directory; a reader sees the old file or the new one,
never half of each. `patch` needs exactly one occurrence of `target_string`: zero or several leave the
file untouched.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from contract import FileList, FilePatch, FileRead, FileWrite
from tool_executors.results import FileEntry, FileResult
from tool_executors.workspace import Workspace, WorkspaceError

MAX_LIST_ENTRIES = 1000


@dataclass(frozen=True)
class FileLimits:
    max_read_bytes: int = 1 << 20
    """Larger files are refused by `read` and `patch` (1 MiB)."""
    max_write_bytes: int = 1 << 20
    """A write or patch may not produce a larger file (1 MiB)."""


class _Refused(Exception):
    pass


def run_file_manager(
    args: FileList | FileRead | FileWrite | FilePatch, workspace: Workspace, limits: FileLimits = FileLimits()
) -> FileResult:
    try:
        real = workspace.resolve(args.path)
        if isinstance(args, FileList):
            return _list(args, workspace, real)
        if isinstance(args, FileRead):
            text = _read_text(args.path, real, limits)
            return FileResult(ok=True, operation="read", path=args.path, output=text,
                              size=len(text.encode()))
        if isinstance(args, FileWrite):
            size = _write(args.path, real, args.content, workspace, limits)
            return FileResult(ok=True, operation="write", path=args.path, size=size,
                              output=f"wrote {size} bytes to {args.path}")
        return _patch(args, real, workspace, limits)
    except (WorkspaceError, _Refused) as exc:
        return FileResult(ok=False, operation=args.operation, path=args.path, error=str(exc))
    except OSError as exc:
        return FileResult(ok=False, operation=args.operation, path=args.path,
                          error=f"{args.operation} {args.path!r} failed: {exc.strerror or exc}")


def _list(args: FileList, workspace: Workspace, real: Path) -> FileResult:
    if not real.is_dir():
        raise _Refused(f"{args.path!r} is not a directory" if real.exists() else f"{args.path!r} does not exist")
    entries: list[FileEntry] = []
    names = sorted(os.listdir(real))
    for name in names[:MAX_LIST_ENTRIES]:
        st = os.lstat(real / name)
        if stat.S_ISLNK(st.st_mode):
            entries.append(FileEntry(name=name, kind="symlink"))
        elif stat.S_ISDIR(st.st_mode):
            entries.append(FileEntry(name=name, kind="dir"))
        elif stat.S_ISREG(st.st_mode):
            entries.append(FileEntry(name=name, kind="file", size=st.st_size))
        else:
            entries.append(FileEntry(name=name, kind="other"))
    lines = [e.name + ("/" if e.kind == "dir" else "") for e in entries]
    truncated = len(names) > MAX_LIST_ENTRIES
    if truncated:
        lines.append(f"... {len(names) - MAX_LIST_ENTRIES} more entries not shown")
    return FileResult(ok=True, operation="list", path=args.path, entries=entries, output="\n".join(lines),
                      truncated=truncated)


def _open_regular(path: str, real: Path) -> int:
    """Open `real` for reading without following a last-moment symlink; refuse non-regular files."""
    if not os.path.lexists(real):
        raise _Refused(f"{path!r} does not exist")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the last component became a symlink after resolve()
            raise _Refused(f"{path!r} is a symlink that changed while being opened") from exc
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a device, FIFO or socket"
        raise _Refused(f"{path!r} is {kind}, not a regular file")
    return fd


def _read_text(path: str, real: Path, limits: FileLimits) -> str:
    fd = _open_regular(path, real)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limits.max_read_bytes + 1)
    if len(data) > limits.max_read_bytes:
        raise _Refused(f"{path!r} is larger than the {limits.max_read_bytes}-byte read limit")
    if b"\x00" in data[:8192]:
        raise _Refused(f"{path!r} is a binary file; file_manager reads and edits text files only")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Refused(f"{path!r} is not UTF-8 text (binary?); file_manager reads text files only") from exc


def _write(path: str, real: Path, content: str, workspace: Workspace, limits: FileLimits) -> int:
    data = content.encode("utf-8")
    if len(data) > limits.max_write_bytes:
        raise _Refused(f"content is {len(data)} bytes, over the {limits.max_write_bytes}-byte write limit")
    mode = 0o644
    if os.path.lexists(real):
        st = os.lstat(real)
        if not stat.S_ISREG(st.st_mode):
            raise _Refused(f"{path!r} exists and is not a regular file; refusing to replace it")
        mode = stat.S_IMODE(st.st_mode)
    parent = real.parent
    _make_parents(path, parent, workspace)
    fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        # The parent may have been swapped for an outside symlink since resolve(): check once more.
        if not workspace.contains(Path(os.path.realpath(parent))):
            raise _Refused(f"{path!r}: its directory moved outside the workspace during the write")
        os.replace(tmp, real)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return len(data)


def _make_parents(path: str, parent: Path, workspace: Workspace) -> None:
    missing = []
    probe = parent
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    if not probe.is_dir():
        raise _Refused(f"cannot create {path!r}: {workspace.relative(probe)!r} is not a directory")
    for directory in reversed(missing):
        os.mkdir(directory)


def _patch(args: FilePatch, real: Path, workspace: Workspace, limits: FileLimits) -> FileResult:
    text = _read_text(args.path, real, limits)
    count = text.count(args.target_string)
    if count == 0:
        raise _Refused(f"target_string not found in {args.path!r}; the file is unchanged. "
                       "Read the file and copy the exact text, whitespace included.")
    if count > 1:
        raise _Refused(f"target_string occurs {count} times in {args.path!r}; the file is unchanged. "
                       "Include more surrounding lines so that it matches exactly once.")
    patched = text.replace(args.target_string, args.replacement_string, 1)
    size = _write(args.path, real, patched, workspace, limits)
    line = text[: text.index(args.target_string)].count("\n") + 1
    return FileResult(ok=True, operation="patch", path=args.path, size=size,
                      output=f"patched {args.path} at line {line} ({size} bytes)")
