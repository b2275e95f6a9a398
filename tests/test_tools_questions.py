"""ask_human's question store: persistence across reopen, answering, waiting, and the webhook."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from contract import AskHumanArgs
from tool_executors.ask_human import QuestionError, QuestionStore, run_ask_human


def test_questions_survive_a_reopen(tmp_path: Path) -> None:
    db = tmp_path / "q.sqlite"
    first = QuestionStore(db)
    made = first.create("Drop the users table?", context="migration 12")
    reopened = QuestionStore(db)
    assert [q.id for q in reopened.list()] == [made.id]
    assert reopened.get(made.id).context == "migration 12"
    answered = reopened.answer(made.id, "No, keep it")
    assert answered.status == "answered" and answered.answer == "No, keep it"
    assert QuestionStore(db).list() == []
    assert [q.id for q in QuestionStore(db).list(status="answered")] == [made.id]


def test_answer_errors_are_clear(tmp_path: Path) -> None:
    store = QuestionStore(tmp_path / "q.sqlite")
    with pytest.raises(QuestionError, match="no question"):
        store.answer("q_missing", "yes")
    made = store.create("Which branch?")
    store.answer(made.id, "main")
    with pytest.raises(QuestionError, match="already answered"):
        store.answer(made.id, "dev")
    with pytest.raises(QuestionError, match="empty"):
        store.answer(store.create("Again?").id, "  ")


def test_wait_for_answer_sees_an_answer_from_another_connection(tmp_path: Path) -> None:
    db = tmp_path / "q.sqlite"
    store = QuestionStore(db)
    made = store.create("Proceed?")
    threading.Timer(0.3, lambda: QuestionStore(db).answer(made.id, "yes")).start()
    started = time.monotonic()
    result = store.wait_for_answer(made.id, timeout=5)
    assert result.answer == "yes" and time.monotonic() - started < 2
    pending = store.wait_for_answer(store.create("Still there?").id, timeout=0.3)
    assert pending.status == "pending"


def test_executor_returns_pending_or_the_answer(tmp_path: Path) -> None:
    store = QuestionStore(tmp_path / "q.sqlite")
    pending = run_ask_human(AskHumanArgs(question="Delete the cache?"), store)
    assert pending.ok and pending.status == "pending" and pending.question_id in pending.output
    threading.Timer(0.2, lambda: store.answer(store.list()[-1].id, "go ahead")).start()
    answered = run_ask_human(AskHumanArgs(question="Rotate the keys?"), store, wait_seconds=5)
    assert answered.status == "answered" and answered.answer == "go ahead"


def test_webhook_receives_new_questions(tmp_path: Path) -> None:
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        store = QuestionStore(tmp_path / "q.sqlite", webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
        made = store.create("Force-push to main?")
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.shutdown()
    assert received and received[0]["event"] == "question.created"
    assert received[0]["question"]["id"] == made.id


def test_a_dead_webhook_does_not_fail_the_question(tmp_path: Path) -> None:
    store = QuestionStore(tmp_path / "q.sqlite", webhook_url="http://127.0.0.1:9/nothing", webhook_timeout=0.5)
    made = store.create("Anyone there?")
    assert store.get(made.id).status == "pending"
