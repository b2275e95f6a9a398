"""Text the user wrote, copied right: the strings of a file_manager call that should be the user's own.

A 135M model copies long strings with slips: a blank line dropped from content the user pasted, a
docstring left out of a fenced block, `syncCarts()` for the `syncCarts(` the user wrote, or a "remove X"
patch whose replacement is X again (a patch that changes nothing). Where the model's string is a near copy
of exactly one block or quoted span of the request, the user's text replaces it, as the path guard does
for paths (`contract.safety.closest_written_path`). Nothing is put in that the user did not write, and a
string that is already the user's, or like none of it, is left alone.

A request to remove the one thing it quotes in backticks ("remove the line `print(x)` from app.py") spells
the whole patch out: that span into nothing. There the model's strings (a target cut short, a replacement
it made up) give way to it; a target that is already text the user wrote around that span is kept.

What it does not cover: content the user asked to be changed from what they pasted ("like this, but with
port 8080") is a near copy too, and would be put back to what they pasted.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable
from difflib import SequenceMatcher

from contract.verbs import REMOVAL

_QUOTED = re.compile(r"`([^`\n]+)`|\"([^\"\n]+)\"|(?<!\w)'([^'\n]+)'(?!\w)")
"""A span in backticks, in double quotes, or in single quotes that are not apostrophes."""
_BACKTICKED = re.compile(r"`([^`\n]+)`")
_FENCED = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
SIMILAR_STRING = 0.8
"""How alike (difflib ratio) a patch string and a span the user quoted must be to count as a copy with a slip."""
SIMILAR_CONTENT = 0.6
"""How alike written content and a block of the request must be: lower than for a string, since a dropped
line costs a block more of its ratio."""
MAX_BLOCKS = 8
"""Most fenced blocks, and most "rest after a header line" blocks, taken from one request: each costs a
comparison with the content, and a hostile request could hold thousands."""


def quoted_spans(text: str) -> list[str]:
    """Every span of `text` the user quoted in backticks or quotes, in order."""
    return [next(group for group in match.groups() if group) for match in _QUOTED.finditer(text)]


def written_blocks(text: str) -> list[str]:
    """What the user may have written as a file's content: each fenced block, everything after the first line
    or after a line that ends with `:` ("overwrite x.md with:"), unfenced, and each quoted span (at most
    MAX_BLOCKS of each kind but the spans)."""
    blocks = [match.group(1) for match in itertools.islice(_FENCED.finditer(text), MAX_BLOCKS)]
    lines = text.split("\n")
    headers = [number for number, line in enumerate(lines[:-1]) if number == 0 or line.rstrip().endswith(":")]
    for number in headers[:MAX_BLOCKS]:
        blocks.append(_FENCED.sub(lambda match: match.group(1), "\n".join(lines[number + 1:])))
    return [block for block in blocks + quoted_spans(text) if block.strip()]


def _ratio(value: str, candidate: str, floor: float = SIMILAR_CONTENT) -> float:
    """difflib's ratio, or 0 when its cheap upper bounds are already below `floor` (the full ratio is
    quadratic in the worst case, and a request may be 8,000 characters)."""
    matcher = SequenceMatcher(None, value, candidate)
    if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
        return 0.0
    return matcher.ratio()


def closest_match(value: str, candidates: Iterable[str], floor: float) -> str | None:
    """The candidate `value` most resembles, if it is alike enough (difflib ratio >= `floor`) and no other
    candidate is as alike."""
    scored = sorted(((_ratio(value, c, floor), c) for c in set(candidates)), reverse=True)
    if not scored or scored[0][0] < floor or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return scored[0][1]


def _lines_within(content: str, block: str) -> bool:
    """Whether every non-blank line of `content` is a line of `block`, in the block's order: lines dropped."""
    lines = iter(line.strip() for line in block.splitlines())
    return all(any(line == wanted for line in lines) for wanted in (w.strip() for w in content.splitlines() if w.strip()))


def written_content(content: str, text: str) -> str | None:
    """The block of `text` that a write's `content` is a slip of (its lines with some dropped, or alike by
    SIMILAR_CONTENT) or the start of, cut at a `"` the model should have escaped (`switch(` for
    `switch("path", "../src")`), ending with one newline; None when the content is already that block (up to
    trailing newlines), empty, or like no one block more than another."""
    content = content.strip("\n")
    if not content.strip():
        return None
    blocks = {block.strip("\n") for block in written_blocks(text)}
    cut_at_quote = {block for block in blocks if block.startswith(content + '"')}
    if len(cut_at_quote) == 1:
        return cut_at_quote.pop() + "\n"
    scored = sorted(((_lines_within(content, block), _ratio(content, block), block) for block in blocks),
                    reverse=True)
    if not scored or not (scored[0][0] or scored[0][1] >= SIMILAR_CONTENT):
        return None
    if len(scored) > 1 and scored[1][:2] == scored[0][:2] or scored[0][2] == content:
        return None
    return scored[0][2] + "\n"


def spelled_out_removal(path: str, text: str) -> str | None:
    """The span a request to remove one thing in backticks from the file at `path` quotes: the only
    backticked span other than the path itself (or part of it), with a removal verb outside the quotes ("nuke
    the `X` line"). None when there are none or several (a swap, "remove `a`, use `b`", is no removal), or no
    such verb. Only backticks: in unquoted code (`print("DEBUG", x)`) a double-quoted span is a string inside it."""
    spans = {span for span in _removal_spans(text) if span not in path}
    return spans.pop() if len(spans) == 1 else None


@functools.lru_cache(maxsize=32)
def _removal_spans(text: str) -> frozenset[str]:
    """The backticked spans of a request with a removal verb outside its quotes (none without one); cached, as
    the question cue asks once for each file the request names."""
    if not REMOVAL.search(_QUOTED.sub(" ", text)):
        return frozenset()
    return frozenset(span for span in _BACKTICKED.findall(text) if span.strip())


_SWAP_GAP = 16
"""At most this many characters between the two spans of a swap: room for a connector ("to", "->", "para",
"iwe", "should read", "改成"), not for a sentence."""
_NO_CONNECTOR = re.compile(r"\b(?:found|expected|got|and|or|vs\.?|versus|instead|on|at|in|of|is|are|than)\b|[?？;]|と|和|或",
                           re.IGNORECASE)
"""What between two spans makes them something other than old and new text: a compiler's "expected `A`, found
`B`", a panic's "`unwrap()` on a `None` value", a comparison ("`A` vs `B`", "`A` と `B`"), a question."""


def spelled_out_swap(path: str, text: str) -> tuple[str, str] | None:
    """The old and new text of a request to change one span it quotes into another in the file at `path`:
    exactly two backticked spans besides the path's own, with only a connector between them ("in app.py change
    `a = 1` to `a = 2`", "muuda `A` -> `B`", "`A` ah `B` nu maathu", "swap\n\n`A`\n\nfor\n\n`B`"). The
    connector is read by its length, not its words, so any language's serves. None when there are more or
    fewer spans, the two are the same, or what stands between them is no connector (_NO_CONNECTOR)."""
    spans = [match for match in _BACKTICKED.finditer(text)
             if match.group(1).strip() and match.group(1) not in path and path not in match.group(1)]
    if len(spans) != 2 or spans[0].group(1) == spans[1].group(1):
        return None
    gap = text[spans[0].end():spans[1].start()].strip()
    if len(gap) > _SWAP_GAP or _NO_CONNECTOR.search(gap):
        return None
    return spans[0].group(1), spans[1].group(1)


def written_patch(target: str, replacement: str, text: str) -> tuple[str, str] | None:
    """A patch's strings as the user wrote them: each that is not in `text` but a slip of one span the user
    quoted becomes that span; each that is the start of one span the user quoted, and not the whole, becomes
    that span (`declare_parameter(` for `declare_parameter("max_speed", 0.8)`: the model ends a string at a
    quote it should have escaped); a no-op patch of the start that two spans share becomes the first into the
    second ("change `<html lang="en">` to `<html lang="vi">`" patched as `<html lang=` into itself); and a
    replacement equal to the target on a request to remove it becomes empty. None when nothing changes."""
    spans = quoted_spans(text)
    fixed = [value if value == "" or value in text else closest_match(value, spans, SIMILAR_STRING) or value
             for value in (target, replacement)]
    starts = [_spans_starting_with(value, spans) for value in fixed]
    completed = [spans_of[0] if len(spans_of) == 1 else value for value, spans_of in zip(fixed, starts)]
    if fixed[0] == fixed[1] and len(starts[0]) == 2:
        fixed = starts[0]
    elif completed[0] != completed[1]:  # completing must not make a patch that changes nothing
        fixed = completed
    if fixed[1] == fixed[0] and REMOVAL.search(text):
        fixed[1] = ""
    return None if fixed == [target, replacement] else (fixed[0], fixed[1])


def _spans_starting_with(value: str, spans: list[str]) -> list[str]:
    """The distinct spans, in order, that start with `value` and are longer than it ("" starts none)."""
    return [span for span in dict.fromkeys(spans) if value and span != value and span.startswith(value)]
