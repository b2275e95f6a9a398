"""codebase_search: exact (ripgrep, or a Python fallback), semantic (MiniLM) and hybrid (BM25 + MiniLM).

`exact` tries the query as a literal string first, then as a regular expression, then as a literal
ignoring case, and answers with the first that finds something (`match_kind` says which). Every mode
skips hidden files and what `.gitignore` excludes, and applies `file_pattern` as a gitignore-style glob.
Semantic and hybrid search refresh the on-disk index incrementally before each query.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from contract import CodebaseSearchArgs
from tool_executors.files import read_text, walk_files
from tool_executors.results import SearchHit, SearchResult
from tool_executors.workspace import Workspace

MAX_HITS = 50
SNIPPET_CHARS = 300
SEMANTIC_K = 10


def default_index_path(root: Path, base: Path | None = None) -> Path:
    """Outside the workspace, so the index never shows up in the user's files or in search results."""
    if base is None:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        base = Path(os.environ.get("ROUTER_INDEX_DIR") or cache / "agent-router" / "index")
    return base / (hashlib.sha256(str(root).encode()).hexdigest()[:16] + ".sqlite")


class CodebaseSearch:
    def __init__(self, workspace: Workspace, index_path: Path | None = None,
                 embedder_factory: Callable[[], object] | None = None, use_ripgrep: bool = True,
                 max_tokens: int = 128):
        self.workspace = workspace
        self.index_path = index_path or default_index_path(workspace.root)
        self.rg = shutil.which("rg") if use_ripgrep else None
        self._embedder_factory = embedder_factory or (lambda: _shared_embedder(max_tokens))
        self._index = None

    @property
    def index(self):
        if self._index is None:
            from tool_executors.search_index import SearchIndex

            self._index = SearchIndex(self.workspace.root, self.index_path, self._embedder_factory)
        return self._index

    def run(self, args: CodebaseSearchArgs) -> SearchResult:
        try:
            if args.mode == "exact":
                return self._exact(args)
            return self._ranked(args)
        except _SearchError as exc:
            return SearchResult(ok=False, mode=args.mode, error=str(exc))
        except (RuntimeError, OSError, ImportError) as exc:
            return SearchResult(ok=False, mode=args.mode, error=f"{args.mode} search failed: {exc}")

    # -- exact ------------------------------------------------------------------------------------

    def _exact(self, args: CodebaseSearchArgs) -> SearchResult:
        engine = "ripgrep" if self.rg else "python"
        attempts: list[tuple[str, str, bool, bool]] = [("literal", args.query, True, False)]
        if _is_regex(args.query):
            attempts.append(("regex", args.query, False, False))
        attempts.append(("literal-ignore-case", args.query, True, True))
        hits: list[SearchHit] = []
        kind = None
        for kind, query, fixed, ignore_case in attempts:
            search = self._ripgrep if self.rg else self._python_grep
            hits = search(query, fixed, ignore_case, args.file_pattern)
            if hits:
                break
        if not hits:
            scope = f" in files matching {args.file_pattern!r}" if args.file_pattern else ""
            return SearchResult(ok=True, mode="exact", engine=engine, output=f"no match for {args.query!r}{scope}")
        return SearchResult(ok=True, mode="exact", engine=engine, match_kind=kind, hits=hits,
                            output=_render(hits))

    def _ripgrep(self, query: str, fixed: bool, ignore_case: bool, file_pattern: str | None) -> list[SearchHit]:
        # --no-ignore-parent: only .gitignore files inside the workspace count, as in the Python walker
        # (a venv's own `.gitignore: *` would otherwise hide an installed package used as a workspace).
        command = [self.rg, "--json", "--no-require-git", "--no-ignore-parent", "--max-columns", "1000",
                   "--max-filesize", "512K", "--sort", "path"]
        command += ["--fixed-strings"] if fixed else []
        command += ["--ignore-case"] if ignore_case else ["--case-sensitive"]
        command += ["--glob", file_pattern] if file_pattern else []
        command += ["-e", query, "--", "."]
        try:
            proc = subprocess.run(command, cwd=self.workspace.root, capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired as exc:
            raise _SearchError("exact search took longer than 20 s; narrow it with file_pattern") from exc
        if proc.returncode == 2 and not proc.stdout:
            raise _SearchError(f"ripgrep refused the query: {proc.stderr.strip()[:300]}")
        hits = []
        for line in proc.stdout.splitlines():
            event = json.loads(line)
            if event["type"] != "match":
                continue
            data = event["data"]
            path = data["path"].get("text", "").removeprefix("./")
            text = data["lines"].get("text", "").rstrip("\n")
            number = data["line_number"]
            hits.append(SearchHit(path=path, start_line=number, end_line=number,
                                  snippet=text.strip()[:SNIPPET_CHARS], score=1.0))
            if len(hits) >= MAX_HITS:
                break
        return hits

    def _python_grep(self, query: str, fixed: bool, ignore_case: bool, file_pattern: str | None) -> list[SearchHit]:
        flags = re.IGNORECASE if ignore_case else 0
        try:
            pattern = re.compile(re.escape(query) if fixed else query, flags)
        except re.error as exc:
            raise _SearchError(f"invalid regular expression {query!r}: {exc}") from exc
        hits = []
        for rel in walk_files(self.workspace.root, file_pattern):
            text = read_text(self.workspace.root / rel)
            if text is None:
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if pattern.search(line):
                    hits.append(SearchHit(path=rel, start_line=number, end_line=number,
                                          snippet=line.strip()[:SNIPPET_CHARS], score=1.0))
                    if len(hits) >= MAX_HITS:
                        return hits
        return hits

    # -- semantic / hybrid ------------------------------------------------------------------------

    def _ranked(self, args: CodebaseSearchArgs) -> SearchResult:
        index = self.index
        index.refresh()
        ranked = index.search(args.query, args.mode, args.file_pattern, k=SEMANTIC_K)
        hits = [SearchHit(path=r.path, start_line=r.start_line, end_line=r.end_line,
                          snippet=_snippet(r.text), score=r.score) for r in ranked]
        engine = "minilm" if args.mode == "semantic" else "bm25+minilm"
        if not hits:
            return SearchResult(ok=True, mode=args.mode, engine=engine, output="no indexed code matches")
        return SearchResult(ok=True, mode=args.mode, engine=engine, hits=hits, output=_render(hits))


class _SearchError(Exception):
    pass


def _shared_embedder(max_tokens: int):
    from tool_executors.embedder import shared_embedder

    return shared_embedder(max_tokens)


def _is_regex(query: str) -> bool:
    if not re.search(r"[.*+?^$()\[\]{}|\\]", query):
        return False
    try:
        re.compile(query)
        return True
    except re.error:
        return False


def _snippet(text: str, max_lines: int = 12) -> str:
    lines = text.splitlines()
    head = "\n".join(lines[:max_lines])
    return head[: SNIPPET_CHARS * 4] + ("\n..." if len(lines) > max_lines else "")


def _render(hits: list[SearchHit]) -> str:
    out = []
    for hit in hits:
        where = f"{hit.path}:{hit.start_line}" + (f"-{hit.end_line}" if hit.end_line != hit.start_line else "")
        first = hit.snippet.splitlines()[0] if hit.snippet else ""
        out.append(f"{where}: {first}")
    return "\n".join(out)
