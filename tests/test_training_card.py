"""The model card is built from a run's numbers and the evaluation reports, held-out set included."""

from __future__ import annotations

import shutil
from pathlib import Path

from training.card import ship

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "router-smollm2"


def test_card_carries_the_test_split_and_held_out_tables(tmp_path):
    run, report, heldout, out = (tmp_path / name for name in ("run", "report", "heldout", "out"))
    for folder in (run, report, heldout):
        folder.mkdir()
    for name in ("adapter.gguf", "train_summary.json", "train_log.jsonl"):
        shutil.copy(SHIPPED / name, run / name)
    shutil.copy(SHIPPED / "eval-report.json", report / "report.json")
    shutil.copy(SHIPPED / "heldout-report.json", heldout / "report.json")

    card = (ship(run, report, out, heldout) / "MODEL_CARD.md").read_text()

    assert (out / "adapter.gguf").stat().st_size == (SHIPPED / "adapter.gguf").stat().st_size
    assert "## Generalisation: the held-out realistic set" in card
    assert card.count("| decision accuracy |") == 2  # one table per evaluation
    assert "data/heldout/realistic.jsonl" in card
    assert "## Generalisation" not in (ship(run, report, tmp_path / "plain") / "MODEL_CARD.md").read_text()
