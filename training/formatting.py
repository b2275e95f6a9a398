"""SFT formatting: the serving prompt byte for byte, a compact-JSON target, loss on the target only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from contract import TrainingExample, build_messages, dump_decision, render_prompt
from training.base_model import ChatFormat

IGNORE_INDEX = -100
"""Label of a masked token (the prompt and padding): cross-entropy skips it."""


class DataError(ValueError):
    """A training file is missing or holds a bad row; the message names the file and line."""


def load_examples(path: str | Path) -> list[TrainingExample]:
    """Read and validate a JSONL split (`{"user_query", "output"}` rows)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"training data {str(path)!r} does not exist (the data factory writes data/router/)")
    examples = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            examples.append(TrainingExample.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise DataError(f"{path}:{number}: invalid row at {where!r}: {first['msg']}") from None
    if not examples:
        raise DataError(f"training data {str(path)!r} has no rows")
    return examples


def render_example(example: TrainingExample, fmt: ChatFormat) -> tuple[str, str]:
    """(prompt, completion): the serving prompt, and the compact decision plus end-of-turn token."""
    prompt = render_prompt(
        build_messages(example.user_query), fmt.chat_template, bos_token=fmt.bos_token, eos_token=fmt.eos_token
    )
    return prompt, dump_decision(example.output) + fmt.eos_token


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    """IGNORE_INDEX over the prompt; the completion's own ids after it."""

    @property
    def completion_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


def encode_example(tokenizer, fmt: ChatFormat, example: TrainingExample) -> Encoded:
    """Tokenize prompt and completion apart (as served: the model continues the prompt's tokens)."""
    prompt, completion = render_example(example, fmt)
    # The template writes any BOS itself; the serving engine tokenizes with add_bos=False, and so do we.
    prompt_ids = tokenizer(prompt, add_special_tokens=False).input_ids
    completion_ids = tokenizer(completion, add_special_tokens=False).input_ids
    return Encoded(prompt_ids + completion_ids, [IGNORE_INDEX] * len(prompt_ids) + completion_ids)


def encode_all(tokenizer, fmt: ChatFormat, examples: list[TrainingExample], max_length: int) -> tuple[list[Encoded], int]:
    """Encode every example; drop (and count) those longer than `max_length`."""
    kept, dropped = [], 0
    for example in examples:
        encoded = encode_example(tokenizer, fmt, example)
        if len(encoded.input_ids) > max_length:
            dropped += 1
        else:
            kept.append(encoded)
    return kept, dropped


def to_chat_record(example: TrainingExample) -> dict:
    """The same example as chat messages (for trainers that apply the template themselves)."""
    messages = build_messages(example.user_query)
    return {"messages": [*messages, {"role": "assistant", "content": dump_decision(example.output)}]}


def write_chat_jsonl(examples: list[TrainingExample], path: Path) -> None:
    path.write_text("".join(json.dumps(to_chat_record(e), ensure_ascii=False) + "\n" for e in examples))
