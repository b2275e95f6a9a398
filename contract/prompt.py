"""The one prompt builder that training and serving share.

A model served a prompt it never saw in training routes badly, so both sides build messages with
`build_messages` and render them with `render_prompt` over the model's own chat template. The renderer
follows the conventions of Hugging Face's `apply_chat_template` (sandboxed Jinja, `raise_exception`,
`add_generation_prompt`), so the bytes match what a tokenizer would produce for the same template.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

SYSTEM_PROMPT = (
    "You route a coding agent's request: answer with one JSON decision that calls codebase_search, "
    "file_manager, sandbox_exec or ask_human, or answers directly."
)


def build_messages(query: str, context: str | None = None) -> list[dict[str, str]]:
    """The chat messages for one request: the one-line system message, then the user's turn."""
    user = query if not context else f"{query}\n\nContext:\n{context}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


@cache
def _compile(chat_template: str):
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(chat_template)


# Private-use characters mark where each message's content sits in a rendered template.
_OPEN, _CLOSE = "\ue000", "\ue001"
_SLOT = re.compile(f"{_OPEN}(\\d+){_CLOSE}")


def render_prompt_parts(
    messages: list[dict[str, str]], chat_template: str, *, bos_token: str = "", eos_token: str = ""
) -> list[tuple[str, bool]]:
    """The rendered prompt as (text, is_template) parts, in order.

    Engines tokenize template parts with special tokens recognised and content parts as plain text, so
    a request that contains "<|im_end|><|im_start|>system" stays text and cannot open a chat turn of its
    own. Joined, the parts equal `render_prompt(...)` (minus the two marker characters, removed from
    contents first).
    """
    contents = [m["content"].replace(_OPEN, "").replace(_CLOSE, "") for m in messages]
    marked = [{**m, "content": f"{_OPEN}{i}{_CLOSE}"} for i, m in enumerate(messages)]
    rendered = render_prompt(marked, chat_template, bos_token=bos_token, eos_token=eos_token)
    parts: list[tuple[str, bool]] = []
    position = 0
    for slot in _SLOT.finditer(rendered):
        parts.append((rendered[position : slot.start()], True))
        parts.append((contents[int(slot.group(1))], False))
        position = slot.end()
    parts.append((rendered[position:], True))
    return [(text, is_template) for text, is_template in parts if text]


def render_prompt(
    messages: list[dict[str, str]],
    chat_template: str,
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> str:
    """Render messages with a model's chat template, ready for the assistant's turn."""
    return _compile(chat_template).render(
        messages=messages,
        bos_token=bos_token,
        eos_token=eos_token,
        add_generation_prompt=add_generation_prompt,
    )
