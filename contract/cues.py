"""Question cues: phrasings that settle one of the decision's choices before the model makes it.

The router's guards correct a decision after it is written; a cue acts before, at the branching points
(status, tool_name, operation), by ruling some values out there (`service.routing.Router.branch_prior`).
The model still writes everything else: the answer, the query, the patch. Four cues, each read off the
request alone and each checked against every gold row of the data (about 13,400 requests), where it
fires only on rows whose gold decision it allows:

- **general**: a comparison ("what's the difference between X and Y", in thirteen languages) with no
  digit in the request, or a question marked as general ("in general", "general C++ q:", "not about our
  code"). A direct answer. The 135M model searches for the names in such questions (`DontDestroyOnLoad`,
  `orphanRemoval`): public API names look like the repository's own. Gold rows: 246, all answers.
- **location**: a question about where something is ("where do we convert knots to m/s?", "dónde
  validamos", "どこで計算してる"). Anything but a program: the model sometimes writes one that computes
  the thing named. Gold rows: about 1,080 (searches, answers, asks, reads), none a program ("where exactly
  is the mistake?" in a pasted JSON file, a program, is not matched: the pattern leaves "where exactly" out).
- **removal**: a request to take the one thing it quotes in backticks out of a file it names ("remove
  the `print(x)` line from app.py", "xóa dòng `console.log(...)` trong a.tsx"), which does not ask for
  information. A file_manager patch (or a question back); the copy repair then makes it that span into nothing
  (`contract.copying.spelled_out_removal`), and the destructive guard still judges it. The model
  sometimes writes another call, and the destructive guard then asks about a spelled-out edit. Gold rows:
  77, all such patches.
- **file**: a path with folders whose last part is a file name ("check internal/ledger/posting.go", a
  traceback's `File "app/jobs/sync.py"`), other than a test id in pasted test output; with a where-question
  only when it asks where in that file (a where-question under a pasted log asks for a place in the
  repository: two gold searches of Y and Z). Anything but a search: the model sometimes searches for the
  path it was given. Gold rows: about 1,530, none a search
  (1,468 file_manager calls, 51 questions back, 8 programs, 2 answers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from contract.copying import spelled_out_removal
from contract.safety import asks_for_information, written_paths
from contract.verbs import REMOVAL


@dataclass(frozen=True)
class Cue:
    name: str
    ruled_out: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """For a branching key, the values the model may not choose there."""


GENERAL = Cue("general", {"status": ("running",)})
LOCATION = Cue("location", {"tool_name": ("sandbox_exec",)})
NAMED_FILE = Cue("file", {"tool_name": ("codebase_search",)})
FILE_REMOVAL = Cue("removal", {"status": ("complete",), "tool_name": ("codebase_search", "sandbox_exec"),
                               "operation": ("read", "list", "write")})

_COMPARISON = re.compile(
    r"difference(?:\s+\w+)?\s+between|diff between|diferen[cç]ia(?:\s+\w+)?\s+entre|différence(?:\s+\w+)?\s+entre|"
    r"r[óo]żnica(?:\s+\w+)?\s+mi[eę]dzy|khác nhau|fark[ıi]|unterschied|differenza(?:\s+\w+)?\s+tra|verschil tussen|"
    r"区别|違い|차이",
    re.IGNORECASE,
)
_MARKED_GENERAL = re.compile(
    r"in general\b|general (?:c\+\+ |python |js |java |rust |go )?(?:q\b|question)|generic question|"
    r"not about our|not (?:specific )?to our|nothing to do with our",
    re.IGNORECASE,
)
_LOCATION = re.compile(
    r"\bwhere(?:'s| is| are| do| does| did| was| were| can| should| would| in)\b|d[oó]nde|\bonde\b|\bdove\b|"
    r"\boù\b|\bwo (?:wird|werden|ist|sind|steht|liegt|passiert|machen|berechnen)\b|\bwaar\b|\bgdzie|\bnerede|"
    r"\bnerde|chỗ nào|ở đâu|どこ|哪里|哪儿|在哪|어디|\bkaha\b|где|\bdi\s?mana\b",
    re.IGNORECASE,
)
_WHERE_IN_GAP = 12
"""At most this many characters (a quote, a backtick, " in ") between a where-question's word and the path."""
_DIGIT = re.compile(r"\d")
_BACKTICKED = re.compile(r"`([^`\n]+)`")
_FILE_NAME = re.compile(r"(?:^|/)(?:\.[\w.-]+|[\w.-]+\.[A-Za-z0-9]{1,6})$")
"""A path whose last part is a file name: a dotfile, or a name with a short extension (`app.py`, not the
table `analytics.fct_orders`)."""


def question_cue(query: str) -> Cue | None:
    """The cue this request carries, if any: a removal first, then a named file (both name their file), then
    general, then location."""
    paths = written_paths(query)  # read once: both file cues look for the file the request names
    if _removes_quoted_text(query, paths):
        return FILE_REMOVAL
    if _names_a_file_in_a_folder(query, paths):
        return NAMED_FILE
    if (_COMPARISON.search(query) and not _DIGIT.search(query)) or _MARKED_GENERAL.search(query):
        return GENERAL
    if _LOCATION.search(query):
        return LOCATION
    return None


def _names_a_file_in_a_folder(query: str, written: set[str]) -> bool:
    """A path with folders whose last part is a file name (`src/app.py`), other than a test's id in pasted
    test-runner output (`tests/test_quotes.py::test_rate`). A where-question counts only when it asks where
    in that file ("where in `app/x.py` do we ..."): "where do we return X?" under a pasted log asks for a
    place in the repository, not for the file one of the log's lines names."""
    paths = [path for path in written if "/" in path and _FILE_NAME.search(path) and f"{path}::" not in query]
    if not paths:
        return False
    wheres = [match.end() for match in _LOCATION.finditer(query)]
    return not wheres or any(0 <= query.find(path, end) - end <= _WHERE_IN_GAP for path in paths for end in wheres)


def _removes_quoted_text(query: str, written: set[str]) -> bool:
    """A removal verb, a file the request names, and exactly one other span in backticks to take out of
    it; not a question for information ("it doesn't delete `x`, right?")."""
    if not REMOVAL.search(query) or len(set(_BACKTICKED.findall(query))) > 4 or asks_for_information(query):
        return False  # more than four spans in backticks (the file, the thing, a few words) is no one thing
    files = (path for path in written if _FILE_NAME.search(path))
    return any(spelled_out_removal(path, query) is not None for path in files)
