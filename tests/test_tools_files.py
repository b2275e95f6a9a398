"""file_manager and the workspace gate: escapes refused, atomic writes, exact-once patches, binary refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contract import FileList, FilePatch, FileRead, FileWrite
from tool_executors import Tools, ToolsConfig, Workspace, WorkspaceError
from tool_executors.file_manager import FileLimits, run_file_manager


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def add(a, b):\n    return a + b\n\nx = 1\nx = 1\n")
    (tmp_path / "secret.txt").write_text("top secret")
    return Workspace(root)


def call(ws: Workspace, **arguments):
    tools = Tools(ToolsConfig(workspace=ws.root, questions_db=ws.root.parent / "q.sqlite"))
    return tools.execute({"tool_name": "file_manager", "arguments": arguments})


@pytest.mark.parametrize("path", ["/etc/passwd", "../secret.txt", "src/../../secret.txt", "~/x", "./src/app.py"])
def test_escapes_are_refused_through_the_contract(ws: Workspace, path: str) -> None:
    result = call(ws, operation="read", path=path)
    assert not result.ok
    assert "path" in result.error


@pytest.mark.parametrize("path", ["/etc/passwd", "../secret.txt", "a/../../secret.txt", "~root"])
def test_workspace_gate_refuses_escapes_directly(ws: Workspace, path: str) -> None:
    with pytest.raises(WorkspaceError):
        ws.resolve(path)


def test_symlink_resolving_outside_is_refused(ws: Workspace) -> None:
    os.symlink(ws.root.parent / "secret.txt", ws.root / "link.txt")
    os.symlink(ws.root.parent, ws.root / "up")
    for path in ("link.txt", "up/secret.txt"):
        result = call(ws, operation="read", path=path)
        assert not result.ok and "outside the workspace" in result.error
    result = call(ws, operation="write", path="up/new.txt", content="x")
    assert not result.ok
    assert not (ws.root.parent / "new.txt").exists()


def test_symlink_inside_the_workspace_is_followed(ws: Workspace) -> None:
    os.symlink("src/app.py", ws.root / "alias.py")
    result = call(ws, operation="read", path="alias.py")
    assert result.ok and "def add" in result.output


def test_devices_fifos_and_directories_are_not_read(ws: Workspace) -> None:
    os.mkfifo(ws.root / "pipe")
    result = call(ws, operation="read", path="pipe")
    assert not result.ok and "not a regular file" in result.error
    assert not call(ws, operation="read", path="src").ok
    os.symlink("/dev/zero", ws.root / "zero")
    assert not call(ws, operation="read", path="zero").ok


def test_binary_and_oversized_files_are_refused(ws: Workspace) -> None:
    (ws.root / "blob.bin").write_bytes(b"\x7fELF\x00\x01\x02")
    result = call(ws, operation="read", path="blob.bin")
    assert not result.ok and "binary" in result.error
    (ws.root / "big.txt").write_text("a" * 2000)
    limited = run_file_manager(FileRead(operation="read", path="big.txt"), ws, FileLimits(max_read_bytes=1000))
    assert not limited.ok and "1000-byte" in limited.error


def test_list_and_read(ws: Workspace) -> None:
    listing = call(ws, operation="list", path=".")
    assert listing.ok and [e.name for e in listing.entries] == ["src"]
    assert listing.entries[0].kind == "dir"
    read = call(ws, operation="read", path="src/app.py")
    assert read.ok and read.output.startswith("def add")


def test_write_is_atomic_and_creates_parents(ws: Workspace) -> None:
    result = call(ws, operation="write", path="pkg/new/mod.py", content="print('hi')\n")
    assert result.ok and result.size == 12
    assert (ws.root / "pkg/new/mod.py").read_text() == "print('hi')\n"
    leftovers = [p for p in (ws.root / "pkg/new").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    (ws.root / "src/app.py").chmod(0o600)
    assert call(ws, operation="write", path="src/app.py", content="y = 2\n").ok
    assert (ws.root / "src/app.py").stat().st_mode & 0o777 == 0o600  # mode kept across the rename


def test_write_refuses_to_replace_a_directory(ws: Workspace) -> None:
    result = run_file_manager(FileWrite(operation="write", path="src", content="x"), ws)
    assert not result.ok and "not a regular file" in result.error
    assert (ws.root / "src").is_dir()


def test_patch_needs_exactly_one_match(ws: Workspace) -> None:
    before = (ws.root / "src/app.py").read_bytes()
    ambiguous = call(ws, operation="patch", path="src/app.py", target_string="x = 1", replacement_string="x = 2")
    assert not ambiguous.ok and "2 times" in ambiguous.error
    missing = call(ws, operation="patch", path="src/app.py", target_string="nope", replacement_string="")
    assert not missing.ok and "not found" in missing.error
    assert (ws.root / "src/app.py").read_bytes() == before
    exact = run_file_manager(
        FilePatch(operation="patch", path="src/app.py", target_string="return a + b", replacement_string="return a - b"),
        ws,
    )
    assert exact.ok and "line 2" in exact.output
    assert "return a - b" in (ws.root / "src/app.py").read_text()


def test_list_of_missing_directory_is_a_clear_error(ws: Workspace) -> None:
    result = run_file_manager(FileList(operation="list", path="nope"), ws)
    assert not result.ok and "does not exist" in result.error
