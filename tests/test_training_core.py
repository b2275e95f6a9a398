"""Training: config validation, formatting (the serving prompt byte for byte), batching, the GPU plan."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from contract import TrainingExample, build_messages, dump_decision
from training.cli import build_config, parse_overrides
from training.config import ALL_LINEAR, ConfigError, TrainConfig
from training.cpu import batch_order, length_grouped, schedule
from training.formatting import IGNORE_INDEX, DataError, encode_example, load_examples, render_example

FIXTURE = Path(__file__).parent / "fixtures" / "training_rows.jsonl"


# --- config -----------------------------------------------------------------------------------


def test_config_round_trips_through_json(tmp_path):
    config = TrainConfig(lora_r=8, max_steps=3, target_modules=("q_proj", "v_proj"))
    config.save(tmp_path / "c.json")
    assert TrainConfig.load(tmp_path / "c.json") == config


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"precision": "fp16"}, "precision"),
        ({"lora_r": 0}, "lora_r"),
        ({"learning_rate": -1}, "learning_rate"),
        ({"target_modules": ["qproj"]}, "target_modules"),
        ({"max_steps": 0}, "max_steps"),
        ({"lr": 1e-4}, "lr"),
    ],
)
def test_bad_config_values_name_the_field(fields, named):
    with pytest.raises(ConfigError, match=named):
        TrainConfig.from_dict(fields)


def test_cli_overrides_parse_json_values_and_reject_garbage(tmp_path):
    assert parse_overrides(["max_steps=5", "base_model=x/y", "target_modules=[\"q_proj\"]"]) == {
        "max_steps": 5, "base_model": "x/y", "target_modules": ["q_proj"]}
    with pytest.raises(ConfigError, match="name=value"):
        parse_overrides(["max_steps"])
    (tmp_path / "c.json").write_text(json.dumps({"lora_r": 4}))
    config = build_config(tmp_path / "c.json", ["lora_alpha=8"])
    assert (config.lora_r, config.lora_alpha, config.lora_scale) == (4, 8, 2.0)
    assert config.target_modules == ALL_LINEAR


def test_config_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        TrainConfig.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        TrainConfig.load(tmp_path / "bad.json")


# --- data -------------------------------------------------------------------------------------


def test_load_examples_names_the_bad_line(tmp_path):
    good = FIXTURE.read_text().splitlines()[0]
    bad = json.dumps({"user_query": "x", "output": {"status": "running", "tool_use": {"tool_name": "nope"}}})
    (tmp_path / "rows.jsonl").write_text(f"{good}\n\n{bad}\n")
    with pytest.raises(DataError, match=r"rows.jsonl:3"):
        load_examples(tmp_path / "rows.jsonl")
    with pytest.raises(DataError, match="does not exist"):
        load_examples(tmp_path / "none.jsonl")


# --- formatting: the real tokenizer and the real serving engine --------------------------------


@pytest.fixture(scope="session")
def smollm2(request):
    """(tokenizer, chat format) of the embedded base, via the cached HF conversion of its GGUF."""
    from transformers import AutoTokenizer

    from training.base_model import chat_format, hf_checkpoint

    tokenizer = AutoTokenizer.from_pretrained(hf_checkpoint("embedded:smollm2-135m"))
    return tokenizer, chat_format("embedded:smollm2-135m")


def test_prompt_is_the_serving_prompt_byte_for_byte(smollm2, engine):
    tokenizer, fmt = smollm2
    for example in load_examples(FIXTURE):
        prompt, completion = render_example(example, fmt)
        messages = build_messages(example.user_query)
        assert prompt == engine.render(messages)
        assert prompt == tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        encoded = encode_example(tokenizer, fmt, example)
        n_prompt = encoded.labels.count(IGNORE_INDEX)
        assert encoded.input_ids[:n_prompt] == engine.tokenize_prompt(messages)
        assert completion == dump_decision(example.output) + "<|im_end|>"


def test_loss_is_on_the_compact_completion_only(smollm2):
    tokenizer, fmt = smollm2
    example = TrainingExample.model_validate_json(FIXTURE.read_text().splitlines()[0])
    encoded = encode_example(tokenizer, fmt, example)
    n_prompt = encoded.labels.count(IGNORE_INDEX)
    assert encoded.labels[n_prompt:] == encoded.input_ids[n_prompt:]
    assert all(label == IGNORE_INDEX for label in encoded.labels[:n_prompt])
    target = tokenizer.decode(encoded.input_ids[n_prompt:])
    assert target.endswith("<|im_end|>") and encoded.input_ids[-1] == tokenizer.convert_tokens_to_ids("<|im_end|>")
    body = target.removesuffix("<|im_end|>")
    assert body == dump_decision(example.output) and "null" not in body and ", " not in body.split('"thought"')[0]
    assert json.loads(body)["tool_use"]["arguments"] == {"query": "def parse_config", "mode": "exact"}


# --- batching and schedule ----------------------------------------------------------------------


def test_batch_order_is_a_seeded_permutation_grouped_by_length():
    lengths = [(i * 37) % 101 for i in range(100)]
    batches = length_grouped(batch_order(100, 8, seed=1, epoch=0), lengths, seed=1, epoch=0)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(100))
    assert batches == length_grouped(batch_order(100, 8, seed=1, epoch=0), lengths, seed=1, epoch=0)
    assert batches != length_grouped(batch_order(100, 8, seed=1, epoch=1), lengths, seed=1, epoch=1)
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 30  # random batches of 8 over 0..100 spread ~78


def test_schedule_warms_up_then_decays_to_a_floor():
    values = [schedule(s, 100, 10) for s in range(100)]
    assert values[0] == pytest.approx(0.1) and values[9] == pytest.approx(1.0)
    assert values[50] < values[10] and min(values) == pytest.approx(0.1, abs=0.01)


# --- GPU trainer: everything but the GPU --------------------------------------------------------


def test_unsloth_plan_maps_the_config(tmp_path):
    from training.gpu import DEFAULT_GPU_BASE, unsloth_plan

    plan = unsloth_plan(TrainConfig(output_dir=str(tmp_path), max_steps=None, lora_r=32, batch_size=4))
    assert plan.model_kwargs["model_name"] == DEFAULT_GPU_BASE and plan.model_kwargs["load_in_4bit"]
    assert plan.peft_kwargs["r"] == 32 and set(plan.peft_kwargs["target_modules"]) == set(ALL_LINEAR)
    assert plan.sft_kwargs["max_steps"] == -1 and plan.sft_kwargs["completion_only_loss"]
    assert plan.sft_kwargs["per_device_train_batch_size"] == 4


class _Recorder:
    """A hand-written stand-in for the Unsloth and TRL entry points: records each call's arguments."""

    def __init__(self, tokenizer):
        self.calls, self.tokenizer, self.model = [], tokenizer, types.SimpleNamespace()
        self.model.save_pretrained = lambda path: self.calls.append(("save_adapter", path))
        self.model.save_pretrained_merged = lambda path, tok, save_method: self.calls.append(("merged", save_method))

    def modules(self):
        rec = self

        class FastLanguageModel:
            @staticmethod
            def from_pretrained(**kw):
                rec.calls.append(("from_pretrained", kw))
                return rec.model, rec.tokenizer

            @staticmethod
            def get_peft_model(model, **kw):
                rec.calls.append(("get_peft_model", kw))
                return model

        class SFTTrainer:
            def __init__(self, *, model, processing_class, train_dataset, args):
                rec.calls.append(("trainer", train_dataset, args))

            def train(self, resume_from_checkpoint):
                rec.calls.append(("train", resume_from_checkpoint))

        return {
            "unsloth": types.SimpleNamespace(FastLanguageModel=FastLanguageModel),
            "trl": types.SimpleNamespace(SFTConfig=lambda **kw: kw, SFTTrainer=SFTTrainer),
            "datasets": types.SimpleNamespace(Dataset=types.SimpleNamespace(from_list=list)),
        }


def test_train_gpu_calls_unsloth_with_masked_rows(tmp_path, monkeypatch, smollm2):
    import torch

    from training import gpu

    tokenizer, fmt = smollm2
    tokenizer.chat_template = fmt.chat_template
    recorder = _Recorder(tokenizer)
    for name, module in recorder.modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    config = TrainConfig(base_model="some/hf-model", train_file=str(FIXTURE), output_dir=str(tmp_path), max_steps=2)
    assert gpu.train_gpu(config) == tmp_path / "adapter"
    names = [c[0] for c in recorder.calls]
    assert names == ["from_pretrained", "get_peft_model", "trainer", "train", "save_adapter", "merged"]
    rows, args = recorder.calls[2][1], recorder.calls[2][2]
    assert len(rows) == 10 and args["max_steps"] == 2
    for row in rows:
        mask = row["completion_mask"]
        assert len(mask) == len(row["input_ids"]) and mask[0] == 0 and mask[-1] == 1
        decoded = tokenizer.decode([t for t, m in zip(row["input_ids"], mask) if m])
        assert decoded.startswith('{"status":') and decoded.endswith("<|im_end|>")
    assert ("merged", "merged_16bit") in recorder.calls


def test_train_gpu_without_cuda_says_so(tmp_path, monkeypatch):
    import torch

    from training.gpu import GpuUnavailable, train_gpu

    monkeypatch.setitem(sys.modules, "unsloth", types.SimpleNamespace(FastLanguageModel=None))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(GpuUnavailable, match="no CUDA device"):
        train_gpu(TrainConfig(output_dir=str(tmp_path)))


@pytest.mark.gpu
def test_train_gpu_real_unsloth(tmp_path):
    """The real Unsloth run on a GPU host: two steps of QLoRA on the fixture rows."""
    from training.gpu import train_gpu

    config = TrainConfig(base_model="unsloth/Llama-3.2-1B-Instruct", train_file=str(FIXTURE),
                         output_dir=str(tmp_path), max_steps=2, batch_size=2)
    adapter = train_gpu(config)
    assert (adapter / "adapter_config.json").is_file()
    assert (tmp_path / "merged-16bit" / "config.json").is_file()
