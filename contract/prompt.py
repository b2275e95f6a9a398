"""The one prompt builder that training and serving share.

A model served a prompt it never saw in training routes badly, so both sides build messages with
`build_messages` and render them with `render_prompt` over the model's own chat template. The renderer
follows the conventions of Hugging Face's `apply_chat_template` (sandboxed Jinja, `raise_exception`,
`add_generation_prompt`), so the bytes match what a tokenizer would produce for the same template.
"""

from __future__ import annotations

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
