"""The model card is built from a run's numbers and the evaluation reports, held-out set included."""

from __future__ import annotations

import shutil
from pathlib import Path

from training.card import ship

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "router-smollm2"


HELDOUT = ("", "-b", "-c", "-d", "-e", "-f", "-g", "-h", "-i", "-j", "-k", "-l", "-m", "-n", "-o", "-p", "-q", "-r", "-s",
           "-t", "-u", "-v", "-w", "-x", "-y", "-z", "-aa", "-ab", "-ac", "-ad", "-ae", "-af",
           "-ag", "-ah", "-ai", "-aj", "-ak", "-al", "-am", "-an")
"""Suffixes of the held-out sets whose reports the shipped card carries (docs/heldout.md)."""


def test_card_carries_the_test_split_and_held_out_tables(tmp_path):
    run, report, out = tmp_path / "run", tmp_path / "report", tmp_path / "out"
    heldouts = [tmp_path / f"heldout{suffix}" for suffix in HELDOUT]
    for folder in (run, report, *heldouts):
        folder.mkdir()
    for name in ("adapter.gguf", "train_summary.json", "train_log.jsonl"):
        shutil.copy(SHIPPED / name, run / name)
    shutil.copy(SHIPPED / "eval-report.json", report / "report.json")
    for suffix, folder in zip(HELDOUT, heldouts):
        shutil.copy(SHIPPED / f"heldout{suffix}-report.json", folder / "report.json")

    card = (ship(run, report, out, *heldouts) / "MODEL_CARD.md").read_text()

    assert (out / "adapter.gguf").stat().st_size == (SHIPPED / "adapter.gguf").stat().st_size
    for suffix in HELDOUT:
        assert f"## Generalisation: the held-out set `data/heldout/realistic{suffix}.jsonl`" in card
    assert "the ninth session's adapter choice was made on" in card and "development set" in card
    assert card.count("| decision accuracy |") == 1 + len(HELDOUT)  # one table per evaluation
    assert "decision prior on (weight 2)" in card  # the newest reports were made as /route serves
    shutil.copy(SHIPPED / "prior.npz", out / "prior.npz")
    with_prior = (ship(run, report, out, *heldouts) / "MODEL_CARD.md").read_text()
    assert "classifier over all-MiniLM-L6-v2 embeddings of the 10512 requests" in with_prior
    # The sets the shipped prior was fitted on (A-W) say they no longer measure the served default.
    assert with_prior.count("the shipped decision prior was fitted on it since") == 23
    assert "## Generalisation" not in (ship(run, report, tmp_path / "plain") / "MODEL_CARD.md").read_text()


def test_the_card_says_how_to_refit_the_prior_it_ships(tmp_path):
    """A prior fitted with `--also` files is reproduced with them: the card reads the command from the prior."""
    import json

    import numpy as np

    from training.card import _prior, _prior_command, _prior_meta

    meta = {"rows": 9, "train_accuracy": 1.0, "embedder": "all-MiniLM-L6-v2",
            "data": "data/router/train.jsonl + data/prior/a.jsonl + data/prior/b.jsonl"}
    with (tmp_path / "prior.npz").open("wb") as file:
        np.savez(file, meta=np.array(json.dumps(meta)))
    assert _prior_command(_prior_meta(tmp_path)) == (
        "router train prior --also data/prior/a.jsonl --also data/prior/b.jsonl")
    assert "`data/prior/b.jsonl`" in _prior(tmp_path, _prior_meta(tmp_path))
    assert _prior_command(_prior_meta(tmp_path / "none")) == "router train prior"
