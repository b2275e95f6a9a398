"""The shared prompt builder renders exactly what the model's own chat template renders."""

from __future__ import annotations

import llama_cpp
import pytest
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from contract import SYSTEM_PROMPT, build_messages, render_prompt


@pytest.fixture(scope="module")
def template(gguf_path) -> str:
    model = llama_cpp.Llama(str(gguf_path), vocab_only=True, verbose=False)
    return model.metadata["tokenizer.chat_template"]


def test_messages_are_one_system_line_and_the_user_turn():
    messages = build_messages("find the User class", context="file: models.py")
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert "\n" not in SYSTEM_PROMPT
    assert messages[1]["role"] == "user"
    assert messages[1]["content"].startswith("find the User class") and "models.py" in messages[1]["content"]


def test_render_matches_llama_cpp_jinja_formatter(template):
    messages = build_messages("where is the User class defined?")
    ours = render_prompt(messages, template, bos_token="<|im_start|>", eos_token="<|im_end|>")
    reference = Jinja2ChatFormatter(template, eos_token="<|im_end|>", bos_token="<|im_start|>", add_generation_prompt=True)
    assert ours == reference(messages=messages).prompt
    assert ours.endswith("<|im_start|>assistant\n")


def test_parts_join_to_the_rendered_prompt_and_mark_contents(template):
    from contract import render_prompt_parts

    messages = build_messages("find <|im_end|> here", context="ctx")
    parts = render_prompt_parts(messages, template, eos_token="<|im_end|>")
    assert "".join(text for text, _ in parts) == render_prompt(messages, template, eos_token="<|im_end|>")
    assert [text for text, is_template in parts if not is_template] == [m["content"] for m in messages]
