"""The persistent index behind semantic and hybrid search: chunks, their embeddings, BM25.

Chunks: Python is cut by function and class with `ast` (a class's own chunk is its header, docstring and
attributes; each method is a chunk), module-level code between them in line windows; other text files
in windows of 40 lines. The index is one SQLite file: `files` (path -> content hash), `chunks`, and
`embeddings` keyed by the hash of a chunk's text, so a refresh re-reads only files whose content hash
changed and re-embeds only chunks whose text changed.
"""

from __future__ import annotations

import ast
import hashlib
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tool_executors.files import pattern_matcher, read_text, walk_files

WINDOW_LINES = 40
WINDOW_STEP = 30
MAX_CHUNK_LINES = 80
CHUNKER_VERSION = "1"
RRF_K = 60

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, sha TEXT NOT NULL, mtime_ns INTEGER, size INTEGER);
CREATE TABLE IF NOT EXISTS chunks (
    path TEXT NOT NULL, start_line INTEGER NOT NULL, end_line INTEGER NOT NULL,
    name TEXT NOT NULL, text TEXT NOT NULL, text_sha TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_path ON chunks (path);
CREATE TABLE IF NOT EXISTS embeddings (text_sha TEXT PRIMARY KEY, vector BLOB NOT NULL);
"""


@dataclass(frozen=True)
class Chunk:
    start_line: int
    end_line: int
    name: str
    text: str


def _windows(lines: list[str], first: int, last: int, name: str) -> Iterator[Chunk]:
    """Line windows over lines[first-1:last] (1-based, inclusive), skipping blank-only windows."""
    start = first
    while start <= last:
        end = min(last, start + WINDOW_LINES - 1)
        text = "\n".join(lines[start - 1 : end])
        if text.strip():
            yield Chunk(start, end, name, text)
        if end == last:
            break
        start += WINDOW_STEP


def chunk_python(text: str) -> list[Chunk]:
    lines = text.splitlines()
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return list(_windows(lines, 1, len(lines), ""))
    chunks: list[Chunk] = []
    covered = [False] * (len(lines) + 2)

    def emit(start: int, end: int, name: str) -> None:
        for i in range(start, end + 1):
            covered[i] = True
        if end - start + 1 > MAX_CHUNK_LINES:
            chunks.extend(_windows(lines, start, end, name))
        else:
            chunks.append(Chunk(start, end, name, "\n".join(lines[start - 1 : end])))

    def visit(body: list[ast.stmt], qualifier: str) -> None:
        for node in body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            end = node.end_lineno or node.lineno
            name = qualifier + node.name
            if isinstance(node, ast.ClassDef):
                inner = [n for n in node.body
                         if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
                header_end = (min([d.lineno for d in inner[0].decorator_list] + [inner[0].lineno]) - 1
                              if inner else end)
                emit(start, max(start, header_end), name)
                visit(node.body, name + ".")
            else:
                emit(start, end, name)

    visit(tree.body, "")
    run_start = None
    for line_no in range(1, len(lines) + 2):  # module-level code between the definitions
        inside = line_no <= len(lines) and not covered[line_no]
        if inside and run_start is None:
            run_start = line_no
        elif not inside and run_start is not None:
            chunks.extend(_windows(lines, run_start, line_no - 1, "<module>"))
            run_start = None
    return sorted(chunks, key=lambda c: c.start_line)


def chunk_file(path: str, text: str) -> list[Chunk]:
    if path.endswith((".py", ".pyi")):
        return chunk_python(text)
    lines = text.splitlines()
    return list(_windows(lines, 1, len(lines), ""))


_WORD = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])|[0-9]+")


def code_tokens(text: str) -> list[str]:
    """BM25 tokens: identifiers split on snake_case and camelCase, lowercased, plus the whole identifiers."""
    tokens = []
    for ident in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text):
        lowered = ident.lower()
        tokens.append(lowered)
        parts = [p.lower() for p in _WORD.findall(ident)]
        if len(parts) > 1 or (parts and parts[0] != lowered):
            tokens.extend(parts)
    return tokens


def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@dataclass
class Ranked:
    path: str
    start_line: int
    end_line: int
    text: str
    score: float


class SearchIndex:
    """One workspace's index, in `index_path` (SQLite). `embedder` is built lazily on first use."""

    def __init__(self, root: Path, index_path: Path, embedder_factory: Callable[[], object]):
        self.root = root
        self.index_path = index_path
        self._embedder_factory = embedder_factory
        self._embedder = None
        self._lock = threading.Lock()
        self._cache: tuple[int, list[tuple[str, int, int, str]], np.ndarray, object] | None = None
        self._version = 0
        self._bm25 = None
        index_path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key = 'chunker'").fetchone()
            if row is None or row[0] != CHUNKER_VERSION:
                db.execute("DELETE FROM files")
                db.execute("DELETE FROM chunks")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('chunker', ?)", (CHUNKER_VERSION,))

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = self._embedder_factory()
        return self._embedder

    @contextmanager
    def _db(self):
        db = sqlite3.connect(self.index_path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def refresh(self) -> dict[str, int | float]:
        """Bring the index up to date with the workspace; returns what it did."""
        started = time.monotonic()
        stats = {"files": 0, "changed": 0, "removed": 0, "chunks_embedded": 0}
        with self._lock, self._db() as db:
            known = {p: (sha, m, s) for p, sha, m, s in db.execute("SELECT path, sha, mtime_ns, size FROM files")}
            seen = set()
            pending: list[tuple[str, str, int, int, list[Chunk]]] = []
            for rel in walk_files(self.root):
                path = self.root / rel
                try:
                    st = path.stat()
                except OSError:
                    continue
                seen.add(rel)
                stats["files"] += 1
                old = known.get(rel)
                if old and old[1] == st.st_mtime_ns and old[2] == st.st_size:
                    continue  # unchanged metadata: trust the stored hash
                text = read_text(path)
                sha = _sha(text) if text is not None else "binary"
                if old and old[0] == sha:
                    db.execute("UPDATE files SET mtime_ns = ?, size = ? WHERE path = ?",
                               (st.st_mtime_ns, st.st_size, rel))
                    continue
                pending.append((rel, sha, st.st_mtime_ns, st.st_size, chunk_file(rel, text) if text else []))
            for rel in set(known) - seen:
                db.execute("DELETE FROM files WHERE path = ?", (rel,))
                db.execute("DELETE FROM chunks WHERE path = ?", (rel,))
                stats["removed"] += 1
            stats["chunks_embedded"] = self._embed_missing(db, pending)
            for rel, sha, mtime, size, chunks in pending:
                db.execute("DELETE FROM chunks WHERE path = ?", (rel,))
                db.executemany(
                    "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)",
                    [(rel, c.start_line, c.end_line, c.name, c.text, _sha(self._doc(rel, c))) for c in chunks],
                )
                db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", (rel, sha, mtime, size))
            stats["changed"] = len(pending)
            if pending or stats["removed"]:
                db.execute("DELETE FROM embeddings WHERE text_sha NOT IN (SELECT text_sha FROM chunks)")
                self._version += 1
        stats["seconds"] = round(time.monotonic() - started, 3)
        return stats

    @staticmethod
    def _doc(path: str, chunk: Chunk) -> str:
        """What is embedded and BM25-indexed: the path and name give context the code alone lacks."""
        return f"{path} {chunk.name}\n{chunk.text}"

    def _embed_missing(self, db: sqlite3.Connection, pending) -> int:
        docs = {}
        for rel, _sha_, _m, _s, chunks in pending:
            for chunk in chunks:
                doc = self._doc(rel, chunk)
                docs[_sha(doc)] = doc
        if not docs:
            return 0
        have = set()
        keys = list(docs)
        for i in range(0, len(keys), 500):
            batch = keys[i : i + 500]
            marks = ",".join("?" * len(batch))
            have.update(r[0] for r in db.execute(f"SELECT text_sha FROM embeddings WHERE text_sha IN ({marks})", batch))
        missing = [k for k in keys if k not in have]
        for i in range(0, len(missing), 256):
            batch = missing[i : i + 256]
            vectors = self.embedder.embed([docs[k] for k in batch]).astype(np.float32)
            db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?)",
                           [(k, v.tobytes()) for k, v in zip(batch, vectors)])
        return len(missing)

    def _load(self):
        if self._cache and self._cache[0] == self._version:
            return self._cache
        with self._db() as db:
            rows = db.execute(
                "SELECT c.path, c.start_line, c.end_line, c.text, e.vector, c.name FROM chunks c "
                "JOIN embeddings e ON e.text_sha = c.text_sha ORDER BY c.path, c.start_line"
            ).fetchall()
        meta = [(r[0], r[1], r[2], r[3]) for r in rows]
        matrix = (np.frombuffer(b"".join(r[4] for r in rows), dtype=np.float32).reshape(len(rows), -1)
                  if rows else np.zeros((0, 384), dtype=np.float32))
        docs = [f"{r[0]} {r[5]}\n{r[3]}" for r in rows]
        self._cache = (self._version, meta, matrix, docs)
        self._bm25 = None
        return self._cache

    def _bm25_scores(self, query: str, docs: list[str]) -> np.ndarray:
        import bm25s

        if self._bm25 is None:
            self._bm25 = bm25s.BM25()
            self._bm25.index([code_tokens(d) or ["<empty>"] for d in docs], show_progress=False)
        tokens = [t for t in code_tokens(query) if t in self._bm25.vocab_dict] if docs else []
        if not tokens:
            return np.zeros(len(docs), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def search(self, query: str, mode: str, file_pattern: str | None, k: int = 10) -> list[Ranked]:
        """Top `k` chunks for `mode` "semantic" (cosine) or "hybrid" (BM25 + cosine, reciprocal rank fusion)."""
        with self._lock:
            return self._search(query, mode, file_pattern, k)

    def _search(self, query: str, mode: str, file_pattern: str | None, k: int) -> list[Ranked]:
        _version, meta, matrix, docs = self._load()
        if not meta:
            return []
        matches = pattern_matcher(file_pattern)
        allowed = np.array([matches(m[0]) for m in meta], dtype=bool)
        if not allowed.any():
            return []
        query_vec = self.embedder.embed([query])[0]
        cosine = np.where(allowed, matrix @ query_vec, -np.inf)
        if mode == "semantic":
            order = np.argsort(-cosine)[:k]
            scores = {int(i): float(cosine[i]) for i in order if np.isfinite(cosine[i])}
        else:
            bm25 = self._bm25_scores(query, docs)
            depth = max(50, k * 5)
            semantic_rank = [i for i in np.argsort(-cosine)[:depth] if allowed[i]]
            # A chunk that shares no word with the query has no lexical rank at all.
            lexical_rank = [i for i in np.argsort(-bm25)[:depth] if allowed[i] and bm25[i] > 0]
            scores = {}
            for ranking in (semantic_rank, lexical_rank):
                for rank, i in enumerate(ranking):
                    scores[int(i)] = scores.get(int(i), 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(scores.items(), key=lambda kv: -kv[1])[:k]
        return [Ranked(meta[i][0], meta[i][1], meta[i][2], meta[i][3], round(s, 6)) for i, s in best]
