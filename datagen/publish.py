"""Publish the dataset to the Hugging Face Hub; `dry_run` writes exactly what would be uploaded."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from datagen.jsonl import read_rows
from datagen.validate import structural

FILES = ("README.md", "train.jsonl", "test.jsonl", "stats.json")
REQUIRED = ("README.md", "train.jsonl", "test.jsonl")


class PublishError(ValueError):
    """The dataset directory is not fit to publish (the message says what to fix)."""


def plan_upload(data_dir: Path) -> list[Path]:
    """The files to upload, after checking they exist and every row is a valid TrainingExample."""
    missing = [name for name in REQUIRED if not (data_dir / name).exists()]
    if missing:
        raise PublishError(f"{data_dir} lacks {', '.join(missing)}; run `router datagen compose` or `split` first")
    for name in ("train.jsonl", "test.jsonl"):
        for i, row in enumerate(read_rows(data_dir / name), 1):
            if set(row) != {"user_query", "output"}:
                raise PublishError(f"{data_dir / name} line {i}: keys must be user_query and output, got {sorted(row)}")
            _, reason = structural(row)
            if reason:
                raise PublishError(f"{data_dir / name} line {i} is not a valid TrainingExample: {reason}")
    return [data_dir / name for name in FILES if (data_dir / name).exists()]


def publish(data_dir: Path, repo_id: str, *, dry_run: bool, dry_run_dir: Path | None = None, token: str | None = None,
            private: bool = False, commit_message: str = "Update the router dataset") -> dict[str, Any]:
    """Upload (or, with dry_run, copy to dry_run_dir) the dataset files; returns the manifest."""
    if "/" not in repo_id or repo_id.count("/") != 1:
        raise PublishError(f"repo_id must look like 'owner/name', got {repo_id!r}")
    files = plan_upload(data_dir)
    manifest = {
        "repo_id": repo_id, "repo_type": "dataset", "private": private, "commit_message": commit_message,
        "files": [{"path_in_repo": f.name, "bytes": f.stat().st_size,
                   "sha256": hashlib.sha256(f.read_bytes()).hexdigest()} for f in files],
    }
    if dry_run:
        if dry_run_dir is None:
            raise PublishError("dry run needs a directory to write the upload into (--dry-run-dir)")
        dry_run_dir.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, dry_run_dir / f.name)
        (dry_run_dir / "upload_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        return manifest
    if not token:
        raise PublishError("no Hugging Face token: set HF_TOKEN (or pass --token-env NAME)")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    info = api.upload_folder(folder_path=str(data_dir), repo_id=repo_id, repo_type="dataset",
                             allow_patterns=[f.name for f in files], commit_message=commit_message)
    manifest["commit_url"] = str(getattr(info, "commit_url", info))
    return manifest
