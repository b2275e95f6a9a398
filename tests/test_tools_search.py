"""codebase_search on a tiny corpus: exact (ripgrep and the Python fallback agree), semantic, hybrid,
the incremental index, and the numpy MiniLM against transformers' BertModel."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from contract import CodebaseSearchArgs
from tool_executors.codebase_search import CodebaseSearch
from tool_executors.embedder import MiniLMEmbedder, shared_embedder
from tool_executors.search_index import chunk_python
from tool_executors.workspace import Workspace

FILES = {
    "app/config.py": '''import tomllib


class ConfigLoader:
    """Reads settings from a TOML file."""

    def load_settings(self, path):
        with open(path, "rb") as fh:
            return tomllib.load(fh)
''',
    "app/net.py": '''import time


def retry_with_backoff(fn, attempts=3):
    """Call fn again after a failure, waiting longer each time."""
    for i in range(attempts):
        try:
            return fn()
        except Exception:
            time.sleep(2 ** i)


def parse_url(url):
    scheme, _, rest = url.partition("://")
    return scheme, rest
''',
    "docs/guide.md": "# Guide\n\nTo deploy, build the wheel and upload it to the package index.\n",
    "build/generated.py": "class ConfigLoader:  # generated copy, ignored by .gitignore\n    pass\n",
    ".hidden/secret.py": "ConfigLoader = 'hidden'\n",
    ".gitignore": "build/\n",
}


@pytest.fixture()
def workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    (tmp_path / ".gitignore").write_text("*\n")  # a parent's ignore file (as in a venv) must not count
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return Workspace(root)


@pytest.fixture()
def search(workspace: Workspace, tmp_path: Path) -> CodebaseSearch:
    return CodebaseSearch(workspace, index_path=tmp_path / "index.sqlite",
                          embedder_factory=lambda: shared_embedder(128))


@pytest.mark.parametrize("use_ripgrep", [True, False])
def test_exact_finds_a_symbol_and_respects_gitignore(workspace: Workspace, tmp_path: Path, use_ripgrep: bool) -> None:
    engine = CodebaseSearch(workspace, index_path=tmp_path / "i.sqlite", use_ripgrep=use_ripgrep)
    assert (engine.rg is not None) == use_ripgrep, "ripgrep is not installed: apt-get install -y ripgrep"
    result = engine.run(CodebaseSearchArgs(query="ConfigLoader", mode="exact"))
    assert result.ok and result.match_kind == "literal"
    assert [(h.path, h.start_line) for h in result.hits] == [("app/config.py", 4)]
    regex = engine.run(CodebaseSearchArgs(query=r"def \w+_with_\w+", mode="exact"))
    assert regex.match_kind == "regex" and regex.hits[0].path == "app/net.py"
    folded = engine.run(CodebaseSearchArgs(query="configloader", mode="exact"))
    assert folded.match_kind == "literal-ignore-case"
    scoped = engine.run(CodebaseSearchArgs(query="deploy", mode="exact", file_pattern="*.py"))
    assert scoped.ok and scoped.hits == []
    assert engine.run(CodebaseSearchArgs(query="deploy", mode="exact", file_pattern="*.md")).hits[0].path == "docs/guide.md"


def test_python_chunker_cuts_by_function_and_class() -> None:
    chunks = chunk_python(FILES["app/config.py"] + FILES["app/net.py"])
    names = [c.name for c in chunks]
    assert "ConfigLoader" in names and "ConfigLoader.load_settings" in names
    assert "retry_with_backoff" in names and "parse_url" in names
    retry = next(c for c in chunks if c.name == "retry_with_backoff")
    assert retry.text.startswith("def retry_with_backoff") and retry.text.rstrip().endswith("time.sleep(2 ** i)")


def test_semantic_and_hybrid_rank_the_right_chunk(search: CodebaseSearch) -> None:
    semantic = search.run(CodebaseSearchArgs(query="wait longer between attempts after an error", mode="semantic"))
    assert semantic.ok and semantic.hits[0].path == "app/net.py" and semantic.hits[0].start_line == 4
    assert all(not h.path.startswith(("build/", ".hidden/")) for h in semantic.hits)
    hybrid = search.run(CodebaseSearchArgs(query="load settings from toml", mode="hybrid", file_pattern="app/*.py"))
    assert hybrid.ok and hybrid.hits[0].path == "app/config.py"
    assert {h.path for h in hybrid.hits} <= {"app/config.py", "app/net.py"}
    docs = search.run(CodebaseSearchArgs(query="how to publish a release", mode="semantic", file_pattern="*.md"))
    assert [h.path for h in docs.hits] == ["docs/guide.md"]


def test_index_refresh_is_incremental_by_content_hash(search: CodebaseSearch, workspace: Workspace) -> None:
    first = search.index.refresh()
    assert first["changed"] == 3 and first["chunks_embedded"] > 0
    assert search.index.refresh()["changed"] == 0
    target = workspace.root / "app/net.py"
    target.write_text(FILES["app/net.py"] + "\n\ndef slugify(text):\n    return text.lower().replace(' ', '-')\n")
    third = search.index.refresh()
    assert third["changed"] == 1 and third["chunks_embedded"] == 1  # only the new function is embedded
    os.utime(workspace.root / "app/config.py")  # touched, same content: re-hashed, nothing embedded
    assert search.index.refresh()["chunks_embedded"] == 0
    (workspace.root / "docs/guide.md").unlink()
    assert search.index.refresh()["removed"] == 1
    hit = search.run(CodebaseSearchArgs(query="turn a title into a url slug", mode="semantic")).hits[0]
    assert hit.path == "app/net.py" and "slugify" in hit.snippet


def test_index_persists_on_disk(search: CodebaseSearch, workspace: Workspace, tmp_path: Path) -> None:
    search.index.refresh()
    again = CodebaseSearch(workspace, index_path=tmp_path / "index.sqlite", embedder_factory=lambda: shared_embedder(128))
    assert again.index.refresh()["chunks_embedded"] == 0


def test_numpy_minilm_matches_transformers() -> None:
    import torch  # installed with the dev group (the train extra)
    from transformers import BertModel, BertTokenizerFast

    from tool_executors.embedder import default_model_dir

    texts = ["def parse_config(path): return toml.load(path)", "How do I read a configuration file?", "x " * 400]
    ours = MiniLMEmbedder(max_tokens=256).embed(texts)
    model_dir = str(default_model_dir())
    model = BertModel.from_pretrained(model_dir).eval()
    batch = BertTokenizerFast.from_pretrained(model_dir)(texts, padding=True, truncation=True, max_length=256,
                                                          return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    reference = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
    assert np.abs(ours - reference).max() < 1e-4
