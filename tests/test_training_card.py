"""The model card is built from a run's numbers and the evaluation reports, held-out set included."""

from __future__ import annotations

import shutil
from pathlib import Path

from training.card import ship

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "router-smollm2"


def test_card_carries_the_test_split_and_held_out_tables(tmp_path):
    run, report, heldout, heldout_b, heldout_c, heldout_d, out = (
        tmp_path / name for name in ("run", "report", "a", "b", "c", "d", "out"))
    for folder in (run, report, heldout, heldout_b, heldout_c, heldout_d):
        folder.mkdir()
    for name in ("adapter.gguf", "train_summary.json", "train_log.jsonl"):
        shutil.copy(SHIPPED / name, run / name)
    shutil.copy(SHIPPED / "eval-report.json", report / "report.json")
    shutil.copy(SHIPPED / "heldout-report.json", heldout / "report.json")
    shutil.copy(SHIPPED / "heldout-b-report.json", heldout_b / "report.json")
    shutil.copy(SHIPPED / "heldout-c-report.json", heldout_c / "report.json")
    shutil.copy(SHIPPED / "heldout-d-report.json", heldout_d / "report.json")

    card = (ship(run, report, out, heldout, heldout_b, heldout_c, heldout_d) / "MODEL_CARD.md").read_text()

    assert (out / "adapter.gguf").stat().st_size == (SHIPPED / "adapter.gguf").stat().st_size
    assert "## Generalisation: the held-out set `data/heldout/realistic.jsonl`" in card
    assert "## Generalisation: the held-out set `data/heldout/realistic-b.jsonl`" in card
    assert "## Generalisation: the held-out set `data/heldout/realistic-c.jsonl`" in card
    assert "## Generalisation: the held-out set `data/heldout/realistic-d.jsonl`" in card
    assert "scored only after the adapter was chosen" in card and "development set" in card
    assert card.count("| decision accuracy |") == 5  # one table per evaluation
    assert "## Generalisation" not in (ship(run, report, tmp_path / "plain") / "MODEL_CARD.md").read_text()
