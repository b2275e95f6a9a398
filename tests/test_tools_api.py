"""The tools over HTTP: /v1/tools/execute on a scratch workspace, /v1/questions, /route with execute=true.

Most tests use the app in-process with the hand-written FakeEngine; the last one attacks a real
`router serve` subprocess (the embedded model) from inside its own sandbox.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import load_settings
from tests.conftest import start_server, stop_server
from tests.hardening_fakes import FakeEngine


def running(tool_use: dict) -> str:
    return json.dumps({"status": "running", "thought": "this request needs a tool to be answered properly",
                       "tool_use": tool_use})


@pytest.fixture()
def scratch(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "core.py").write_text("def compute_checksum(data):\n    return sum(data) % 256\n\nA = 1\nA = 1\n")
    (tmp_path / "outside.txt").write_text("outside")
    os.symlink(tmp_path / "outside.txt", root / "escape.txt")
    return root


def client_for(scratch: Path, engine=None, **settings) -> TestClient:
    merged = {"tools_enabled": True, "workspace": scratch, "questions_db": scratch.parent / "q.sqlite",
              "index_dir": scratch.parent / "index"} | settings
    return TestClient(create_app(load_settings(**merged), engine=engine or FakeEngine()))


def execute(client: TestClient, tool_name: str, **arguments) -> httpx.Response:
    return client.post("/v1/tools/execute", json={"tool_use": {"tool_name": tool_name, "arguments": arguments}})


def test_tools_are_off_by_default(scratch: Path) -> None:
    with TestClient(create_app(load_settings(workspace=scratch), engine=FakeEngine())) as client:
        assert execute(client, "sandbox_exec", code="print(1)").status_code == 404
        assert client.get("/v1/questions").status_code == 404
        refused = client.post("/route", json={"query": "what is 2+2", "execute": True})
        assert refused.status_code == 400 and "ROUTER_TOOLS_ENABLED" in refused.text
        assert "tools" not in client.get("/ready").json()


def test_file_manager_over_http(scratch: Path) -> None:
    with client_for(scratch) as client:
        for path in ("../outside.txt", "/etc/passwd"):
            refused = execute(client, "file_manager", operation="read", path=path)
            assert refused.status_code == 422 and "path" in refused.text
        symlink = execute(client, "file_manager", operation="read", path="escape.txt").json()
        assert not symlink["ok"] and "outside the workspace" in symlink["error"]
        wrote = execute(client, "file_manager", operation="write", path="notes/todo.txt", content="ship it\n").json()
        assert wrote["ok"] and (scratch / "notes/todo.txt").read_text() == "ship it\n"
        before = (scratch / "pkg/core.py").read_text()
        ambiguous = execute(client, "file_manager", operation="patch", path="pkg/core.py",
                            target_string="A = 1", replacement_string="A = 2").json()
        assert not ambiguous["ok"] and "2 times" in ambiguous["error"]
        assert (scratch / "pkg/core.py").read_text() == before
        exact = execute(client, "file_manager", operation="patch", path="pkg/core.py",
                        target_string="% 256", replacement_string="% 65536").json()
        assert exact["ok"] and "% 65536" in (scratch / "pkg/core.py").read_text()


def test_search_and_sandbox_over_http(scratch: Path) -> None:
    with client_for(scratch) as client:
        found = execute(client, "codebase_search", query="compute_checksum", mode="exact").json()
        assert found["ok"] and found["hits"][0]["path"] == "pkg/core.py" and found["hits"][0]["start_line"] == 1
        ran = execute(client, "sandbox_exec", code="print(sum(range(101)))", timeout=10).json()
        assert ran["ok"] and ran["stdout"] == "5050\n" and ran["isolation"] == "bwrap"
        bomb = execute(client, "sandbox_exec", code="x = bytearray(8 * 1024**3)", timeout=10).json()
        assert not bomb["ok"] and "MemoryError" in bomb["error"]
        ready = client.get("/ready")
        assert ready.status_code == 200 and ready.json()["tools"]["sandbox"]["isolation"] == "bwrap"
        assert ready.json()["tools"]["sandbox"]["warning"] is None


def test_questions_long_poll_and_answer(scratch: Path) -> None:
    with client_for(scratch) as client:
        asked = execute(client, "ask_human", question="Which database should I migrate?").json()
        qid = asked["question_id"]
        assert asked["ok"] and asked["status"] == "pending"
        assert [q["id"] for q in client.get("/v1/questions").json()["data"]] == [qid]
        threading.Timer(0.5, lambda: client.post(f"/v1/questions/{qid}/answer", json={"answer": "staging"})).start()
        started = time.monotonic()
        waited = client.get(f"/v1/questions/{qid}", params={"wait": 10}).json()
        assert waited["status"] == "answered" and waited["answer"] == "staging"
        assert time.monotonic() - started < 5
        assert client.post(f"/v1/questions/{qid}/answer", json={"answer": "again"}).status_code == 409
        assert client.get("/v1/questions/q_nope").status_code == 404
        assert client.get("/v1/questions").json()["data"] == []


def test_route_execute_runs_the_decided_tool(scratch: Path) -> None:
    engine = FakeEngine(text=running({"tool_name": "sandbox_exec", "arguments": {"code": "print(6 * 7)"}}))
    with client_for(scratch, engine) as client:
        body = client.post("/route", json={"query": "what is six times seven", "execute": True}).json()
        assert body["tool_use"]["tool_name"] == "sandbox_exec"
        assert body["observation"]["ok"] and body["observation"]["stdout"] == "42\n"
        plain = client.post("/route", json={"query": "what is six times seven"}).json()
        assert "observation" not in plain


RMTREE = running({"tool_name": "sandbox_exec", "arguments": {"code": "import shutil\nshutil.rmtree('/sandbox')"}})


def test_route_execute_policy_forces_ask_human_for_destructive_requests(scratch: Path) -> None:
    """The tools policy still stops a destructive call when the routing guard is off (defence in depth)."""
    with client_for(scratch, FakeEngine(text=RMTREE), destructive_guard=False) as client:
        body = client.post("/route", json={"query": "delete every build folder", "execute": True}).json()
        assert body["tool_use"]["tool_name"] == "sandbox_exec"  # what the model chose
        observation = body["observation"]
        assert observation["tool_name"] == "ask_human" and observation["status"] == "pending"
        assert "destructive" in observation["policy"]
        metrics = client.get("/metrics").text
        assert 'router_tools_policy_overrides_total{reason="destructive"} 1.0' in metrics


def test_route_execute_with_the_guard_asks_before_the_policy_sees_a_tool(scratch: Path) -> None:
    with client_for(scratch, FakeEngine(text=RMTREE)) as client:
        body = client.post("/route", json={"query": "delete every build folder", "execute": True}).json()
        assert body["tool_use"]["tool_name"] == "ask_human" and body["meta"]["destructive"] is True
        assert body["observation"]["tool_name"] == "ask_human" and body["observation"]["status"] == "pending"
        assert "router_destructive_overrides_total 1.0" in client.get("/metrics").text


def test_route_never_writes_a_file_the_user_did_not_name(scratch: Path) -> None:
    """The path guard answers first: the model's write to a path the request never names becomes a question."""
    invented = running({"tool_name": "file_manager",
                        "arguments": {"operation": "write", "path": "notes/todo.txt", "content": "x"}})
    with client_for(scratch, FakeEngine(text=invented), tools_auto_write=True) as client:
        body = client.post("/route", json={"query": "jot down an x for me", "execute": True}).json()
        assert body["tool_use"]["tool_name"] == "ask_human" and body["meta"]["unnamed_path"] is True
        assert "notes/todo.txt" in body["tool_use"]["arguments"]["question"]
        assert body["observation"]["tool_name"] == "ask_human" and not (scratch / "notes").exists()
        assert "router_unnamed_path_overrides_total 1.0" in client.get("/metrics").text


def test_route_execute_does_not_write_without_the_setting(scratch: Path) -> None:
    write = running({"tool_name": "file_manager",
                     "arguments": {"operation": "write", "path": "new.txt", "content": "x"}})
    with client_for(scratch, FakeEngine(text=write)) as client:
        body = client.post("/route", json={"query": "create new.txt with an x", "execute": True}).json()
        assert body["observation"]["skipped"] and "ROUTER_TOOLS_AUTO_WRITE" in body["observation"]["error"]
        assert not (scratch / "new.txt").exists()
        assert 'router_tools_policy_overrides_total{reason="write_not_allowed"} 1.0' in client.get("/metrics").text
    with client_for(scratch, FakeEngine(text=write), tools_auto_write=True) as client:
        body = client.post("/route", json={"query": "create new.txt with an x", "execute": True}).json()
        assert body["observation"]["ok"] and (scratch / "new.txt").read_text() == "x"


def test_real_server_sandbox_cannot_reach_or_read_the_server(scratch: Path, tmp_path: Path) -> None:
    secret = uuid.uuid4().hex
    server = start_server(tmp_path, env={"ROUTER_TOOLS_ENABLED": "true", "ROUTER_WORKSPACE": str(scratch),
                                         "ROUTER_QUESTIONS_DB": str(tmp_path / "q.sqlite"),
                                         "ROUTER_TEST_SECRET": secret})
    try:
        port = server.url.rsplit(":", 1)[1]
        code = f"""
import glob, os, socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
    print("REACHED")
except OSError as exc:
    print("blocked", type(exc).__name__)
blobs = []
for path in glob.glob("/proc/*/environ"):
    try:
        blobs.append(open(path, "rb").read().decode(errors="replace"))
    except OSError:
        pass
print(sorted(os.environ), blobs)
open("/tmp/{secret}", "w").write("x")
"""
        tool_use = {"tool_name": "sandbox_exec", "arguments": {"code": code, "timeout": 10}}
        result = httpx.post(f"{server.url}/v1/tools/execute", json={"tool_use": tool_use}, timeout=30).json()
        assert result["ok"], result
        assert "blocked" in result["stdout"] and "REACHED" not in result["stdout"]
        assert secret not in result["stdout"] and not Path("/tmp", secret).exists()
        loop = {"tool_name": "sandbox_exec", "arguments": {"code": "while True: pass", "timeout": 2}}
        assert httpx.post(f"{server.url}/v1/tools/execute", json={"tool_use": loop}, timeout=30).json()["timed_out"]
        assert httpx.get(f"{server.url}/ready", timeout=5).status_code == 200
    finally:
        stop_server(server)


def test_route_searches_everywhere_when_the_scope_is_one_the_user_never_gave(scratch: Path) -> None:
    """The scope guard: an invented file_pattern is dropped before the search runs, so it can find the code."""
    (scratch / "models.py").write_text("class User:\n    pass\n")
    scoped = running({"tool_name": "codebase_search",
                      "arguments": {"query": "class User", "mode": "hybrid", "file_pattern": "**/*.php"}})
    with client_for(scratch, FakeEngine(text=scoped)) as client:
        body = client.post("/route", json={"query": "where is the User class defined?", "execute": True}).json()
        assert body["meta"]["unnamed_scope"] is True and "file_pattern" not in body["tool_use"]["arguments"]
        assert body["tool_use"]["arguments"]["mode"] == "exact"
        assert "models.py" in json.dumps(body["observation"])
        assert "router_unnamed_scope_overrides_total 1.0" in client.get("/metrics").text
