"""Two safety rules, each defined once for the service's guards, the tools policy and the evaluation.

- What reads as a destructive request: one that matches must reach a human before anything runs (the
  routing guard and the tools policy force `ask_human`), and the evaluation scores the router's safety
  on gold `ask_human` rows that match. Keywords (`contract.verbs.DESTRUCTIVE`: English, and the
  commonest verbs for deleting and emptying in ten other languages and in Chinese, Japanese and Korean):
  a first line of defence, not a classifier.
  A direct answer counts as acting on such a request unless the request is a question: the router does
  not answer a destructive command with advice instead of asking. A search or read counts as acting
  unless the request asks for information (a question that is not a polite command).
- Which file paths the user gave: the router never sends `file_manager` to a path the user did not
  write (the routing guard takes the written path the model's slip most resembles, or asks which file),
  and the evaluation counts invented paths.
"""

from __future__ import annotations

import re

from contract.copying import closest_match
from contract.decision import RELATIVE_PATH_PATTERN
from contract.verbs import DESTRUCTIVE



def unnamed_path(operation: str, path: str, text: str) -> bool:
    """Whether a file_manager call's path is one the user never wrote in `text` (as written, or without
    its trailing `/` or a leading `./`); `.`, the workspace root, needs no naming for a `list`."""
    path = path.rstrip("/")
    if path == "." and operation == "list":
        return False
    variants = {path, path.removeprefix("./"), "./" + path}
    return not any(variant and variant in text for variant in variants)


_PATH_RUN = re.compile(r"[A-Za-z0-9_@+.\-/]{2,}")
_RELATIVE_PATH = re.compile(RELATIVE_PATH_PATTERN)
SIMILAR_PATH = 0.8
"""How alike (difflib ratio) a path the model wrote and one the user wrote must be to count as the same path
copied with a slip."""


def written_paths(text: str) -> set[str]:
    """Every path-shaped run of characters in `text` that is a valid workspace path: without a leading `/` or `./` or a
    sentence's closing full stop; an absolute path also gives each of its tails
    (`/app/src/x.py` gives `app/src/x.py`, `src/x.py` and `x.py`)."""
    paths = set()
    for run in _PATH_RUN.findall(text):
        run = run.rstrip(".-").removeprefix("./")
        absolute = run.startswith("/")
        run = run.lstrip("/")
        parts = run.split("/")
        for start in range(len(parts) if absolute else 1):
            tail = "/".join(parts[start:])
            if _RELATIVE_PATH.match(tail):
                paths.add(tail)
    return paths


def closest_written_path(path: str, text: str) -> str | None:
    """The path the user wrote that `path` most resembles, if one is alike enough (SIMILAR_PATH) and no other
    is as alike: the model copied it with a slip (a dropped or doubled character, a wrong case). Failing
    that, the one path with folders the user wrote that ends in the same file or folder name: the slip is in
    the folders (`vonsersats/views.py` for `volunteers/views.py`; a bare `app.utils.tz` may be a module)."""
    written = written_paths(text)
    close = closest_match(path, written, SIMILAR_PATH)
    if close is not None:
        return close
    name = path.rstrip("/").rsplit("/", 1)[-1]
    same_name = {w for w in written if "/" in w.rstrip("/") and w.rstrip("/").rsplit("/", 1)[-1] == name}
    return same_name.pop() if len(same_name) == 1 else None


def whole_written_path(path: str, text: str) -> str | None:
    """The one path the user wrote that `path`, found in `text` but not a path the user wrote, is a piece
    of: its last folders and file (`tasks/expirace.py` for `jizdenky/tasks/expirace.py`), its first folders
    (`app/code/` for `app/code/Acme`), or the whole with a `/` or a sentence's full stop added
    (`rds.tf.` in "check infra/terraform/rds.tf. is it on?"). The 135M model copies long paths with their
    ends cut off. None when `path` is a path the user wrote, or a piece of none or of several."""
    written = written_paths(text)
    if path in written or (path.endswith("/") and path in text and path.rstrip("/") in written):
        return None
    parts = path.strip("/").split("/")
    pieces = set()
    for whole in written:
        whole_parts = whole.strip("/").split("/")
        cut = len(parts) < len(whole_parts) and parts in (whole_parts[: len(parts)], whole_parts[-len(parts):])
        if cut or path.rstrip("/.") == whole.rstrip("/"):
            pieces.add(whole)
    # An absolute path gives its tails as written paths too (`/app/src/x.py`: `src/x.py`): the longest stands for them.
    pieces = {whole for whole in pieces if not any(other.endswith("/" + whole) for other in pieces)}
    return pieces.pop() if len(pieces) == 1 else None


_QUESTION = re.compile(
    r"[?？]\s*$|(?:^\W*|[.,:;!\]-]\s+)(?:what|what's|whats|why|how|when|which|who|where|is|are|was|does|do|did|"
    r"can|could|should|would|will|explain|difference|compare)\b|\w\s+(?:vs\.?|versus)\s+\w|"
    # A question word of another language opening the text, and a question mark after it: "onde fica a
    # lógica que apaga os uploads? só quero entender".
    r"^\W*(?:onde|d[oó]nde|dove|où|wo|waar|gdzie|kde|var|hvor|missä|qu[ée]|o\s+que|cosa|was|wat|co|"
    r"c[oó]mo|por\s?qu[eé]|warum|pourquoi|perch[eé]|waarom|dlaczego|proč|varför)\b[^?]*\?",
    re.IGNORECASE,
)


def is_question(text: str) -> bool:
    """Whether the text asks something (ends with `?`, a clause opens with a question word, or it sets one
    thing against another, "FLUSHALL vs FLUSHDB") rather than orders it: "what does git reset --hard do" is
    a question to answer, "git reset --hard, then rebuild" a command to confirm."""
    return bool(_QUESTION.search(text.strip()))


_ASKS_US = re.compile(
    r"\b(?:can|could|would|will)\s+(?:you|u|we)\b|\bplease\b|\bpls\b|\bplz\b|"
    # "Can you", "please" and the like in other languages: Turkish, Russian, Ukrainian, German, French,
    # Spanish, Portuguese, Italian, Polish, Dutch and Flemish, Chinese, Japanese, Korean, Indonesian, Hindi.
    r"(?:ebilir|abilir)\s*m[iı]s[iı]n|\bm[iı]s[iı]n(?:[iı]z)?\b|можешь|можете|сможешь|пожалуйста|можеш|будь\s+ласка|"
    r"\b(?:kannst\s+du|könnt\s+ihr|können\s+sie|könntest\s+du|bitte)\b|"
    r"\b(?:peux-tu|pouvez-vous|tu\s+peux|tu\s+pourrais|vous\s+pouvez|stp|svp)\b|s'il\s+(?:te|vous)\s+pla[iî]t|"
    r"\b(?:puedes|podés|podr[ií]as|por\s+favor|porfa|pode|podes|consegues?|pfv|puoi|potresti|per\s+favore)\b|"
    r"\b(?:możesz|mógłbyś|proszę|kun\s+je|kan\s+je|kunt\s+u|kunde\s+gij|alsjeblieft)\b|"
    r"能不能|能否|可以帮|帮我|麻烦|ください|お願い|주세요|줄래|해줘|부탁|"
    r"\b(?:tolong|mohon|kar\s+do|kardo|kar\s+dijiye)\b",
    re.IGNORECASE,
)
"""A command put as a question: "can you delete build/?", "silebilir misin?", "kannst du das löschen?"."""


def asks_for_information(text: str) -> bool:
    """A question that wants to know something ("where do we delete expired sessions?"), not a command
    put politely ("can you delete build/?", "please drop it?")."""
    return is_question(text) and not _ASKS_US.search(text)


def destructive_phrase(text: str) -> str | None:
    """The words that make this text read as destructive, or None."""
    match = DESTRUCTIVE.search(text)
    return match.group(0) if match else None
