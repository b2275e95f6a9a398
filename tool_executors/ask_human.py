"""ask_human: a persistent question store (SQLite) that an agent writes to and a person answers.

Questions survive a restart (the database is a file, WAL mode, one connection per call so threads and
processes can share it). `wait_for_answer` polls, so an answer given by another process is seen too.
An optional webhook is POSTed (httpx, in a background thread) when a question is created; its failure is
logged and never fails the question.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from contract import AskHumanArgs
from tool_executors.results import QuestionResult

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    context TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'answered')),
    answer TEXT,
    created_at TEXT NOT NULL,
    answered_at TEXT
);
CREATE INDEX IF NOT EXISTS questions_status ON questions (status, created_at);
"""


class Question(BaseModel):
    id: str
    question: str
    context: str | None = None
    status: Literal["pending", "answered"]
    answer: str | None = None
    created_at: str
    answered_at: str | None = None


class QuestionError(ValueError):
    """Unknown question, or one that was already answered; the message says which."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class QuestionStore:
    def __init__(self, path: str | Path, webhook_url: str | None = None, webhook_timeout: float = 5.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.webhook_url = webhook_url
        self.webhook_timeout = webhook_timeout
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    def create(self, question: str, context: str | None = None) -> Question:
        record = Question(id=f"q_{uuid.uuid4().hex[:16]}", question=question, context=context,
                          status="pending", created_at=_now())
        with self._db() as db:
            db.execute(
                "INSERT INTO questions (id, question, context, status, created_at) VALUES (?, ?, ?, ?, ?)",
                (record.id, record.question, record.context, record.status, record.created_at),
            )
        if self.webhook_url:
            threading.Thread(target=self._notify, args=(record,), daemon=True).start()
        return record

    def get(self, question_id: str) -> Question:
        with self._db() as db:
            row = db.execute("SELECT * FROM questions WHERE id = ?", (question_id,)).fetchone()
        if row is None:
            raise QuestionError(f"no question with id {question_id!r}")
        return Question(**dict(row))

    def list(self, status: Literal["pending", "answered"] | None = "pending", limit: int = 100) -> list[Question]:
        query, params = "SELECT * FROM questions", ()
        if status:
            query, params = query + " WHERE status = ?", (status,)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY created_at LIMIT ?", (*params, limit)).fetchall()
        return [Question(**dict(row)) for row in rows]

    def answer(self, question_id: str, answer: str) -> Question:
        if not answer.strip():
            raise QuestionError("the answer is empty")
        with self._db() as db:
            updated = db.execute(
                "UPDATE questions SET status = 'answered', answer = ?, answered_at = ? "
                "WHERE id = ? AND status = 'pending'",
                (answer, _now(), question_id),
            ).rowcount
        if not updated:
            existing = self.get(question_id)  # raises for an unknown id
            raise QuestionError(f"question {existing.id!r} was already answered")
        return self.get(question_id)

    def wait_for_answer(self, question_id: str, timeout: float, poll: float = 0.2) -> Question:
        """The question once answered, or as it stands when `timeout` seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.get(question_id)
            if record.status == "answered" or time.monotonic() >= deadline:
                return record
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))

    async def wait_for_answer_async(self, question_id: str, timeout: float, poll: float = 0.2) -> Question:
        deadline = time.monotonic() + timeout
        while True:
            record = await asyncio.to_thread(self.get, question_id)
            if record.status == "answered" or time.monotonic() >= deadline:
                return record
            await asyncio.sleep(min(poll, max(0.0, deadline - time.monotonic())))

    def _notify(self, record: Question) -> None:
        import httpx

        try:
            response = httpx.post(self.webhook_url, json={"event": "question.created",
                                                          "question": record.model_dump()},
                                  timeout=self.webhook_timeout)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("ask_human webhook %s failed for %s: %s", self.webhook_url, record.id, exc)


def run_ask_human(args: AskHumanArgs, store: QuestionStore, wait_seconds: float = 0.0) -> QuestionResult:
    """Record the question; wait up to `wait_seconds` for an answer (0: return at once, pending)."""
    try:
        record = store.create(args.question, args.context)
        if wait_seconds > 0:
            record = store.wait_for_answer(record.id, wait_seconds)
    except (sqlite3.Error, OSError) as exc:
        return QuestionResult(ok=False, error=f"could not store the question: {exc}")
    if record.status == "answered":
        output = f"The human answered: {record.answer}"
    else:
        output = (f"Question {record.id} is waiting for a human answer "
                  f"(GET /v1/questions/{record.id}, or `router tools answer {record.id} TEXT`).")
    return QuestionResult(ok=True, output=output, question_id=record.id, status=record.status,
                          answer=record.answer)
