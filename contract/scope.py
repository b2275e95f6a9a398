"""Search scopes the user gave, and the search mode a query's own shape calls for.

The router never narrows a search to files the user did not point at: a `codebase_search` whose
`file_pattern` names nothing in the request ("where is the User class defined?" searched only in
`**/*.php`) can miss the very definition it was sent to find. A pattern counts as given when one of
its anchors occurs in the user's text as a word: a folder or file-name word (`migrations/**`,
`**/*_spec.rb`), its extension (`tsx`, `.py`), or a word people use for files of that extension
("React components" for `*.tsx`, "headers" for `*.h`). Loose on purpose: a scope the user did give
must never be dropped, so any anchor word is enough.

When such a pattern is dropped, the model's mode was chosen for a scoped search ("hybrid when
scoped"), so the mode is re-derived from the query by the contract's rule: `exact` for a single symbol,
a declaration ("class User") or a string the user quoted or pasted (or most of one), `hybrid` for a
symbol mixed with words or a symbol the user asks how it behaves, `semantic` for a description.
"""

from __future__ import annotations

import re
from typing import Literal

from contract.copying import quoted_spans
from contract.decision import CodebaseSearchCall, CompleteDecision, RunningDecision
from contract.operations import FILE_EXTENSIONS

# Words people use for files of an extension, besides the extension itself.
_EXTENSION_WORDS: dict[str, tuple[str, ...]] = {
    "py": ("python",), "ts": ("typescript",), "tsx": ("typescript", "react", "component"),
    "js": ("javascript", "node"), "jsx": ("javascript", "react", "component"), "go": ("golang",),
    "kt": ("kotlin",), "rs": ("rust",), "rb": ("ruby",), "cs": ("c#", "csharp"), "cpp": ("c++",),
    "cc": ("c++", "cpp"), "hpp": ("c++", "cpp", "header"), "h": ("header", "c"), "c": ("c",),
    "sql": ("migration", "query", "schema"), "sh": ("shell", "bash", "script"), "tf": ("terraform",),
    "yml": ("yaml", "config", "helm", "workflow", "k8s", "kubernetes", "compose", "manifest"),
    "yaml": ("yml", "config", "helm", "workflow", "k8s", "kubernetes", "compose", "manifest"),
    "ex": ("elixir",), "exs": ("elixir",), "jl": ("julia",), "md": ("markdown", "doc", "docs", "readme"),
    "proto": ("protobuf", "grpc"), "css": ("style", "stylesheet"), "scss": ("css", "style", "stylesheet"),
    "html": ("template",), "vue": ("component",), "svelte": ("component",),
}
_WORD = re.compile(r"[a-z0-9_#+]+")


def _words(text: str) -> set[str]:
    """Lower-case words of `text`, each also without a plural `s` ("headers" also gives "header")."""
    words = set(_WORD.findall(text.lower()))
    return words | {w[:-1] for w in words if len(w) > 3 and w.endswith("s")}


def _anchors(pattern: str) -> set[str]:
    """The words a user would write to ask for this pattern's files."""
    anchors: set[str] = set()
    for segment in re.split(r"[/{},]", pattern.lower()):
        for piece in re.split(r"[*?\[\]!]+", segment):
            piece = piece.strip(".")
            if not piece:
                continue
            stem, dot, extension = piece.rpartition(".")
            if dot:
                anchors |= {extension, *_EXTENSION_WORDS.get(extension, ())}
                piece = stem
            elif piece in _EXTENSION_WORDS:  # "{yml,yaml}" splits into bare extensions
                anchors |= set(_EXTENSION_WORDS[piece])
            anchors |= {w for w in re.split(r"[^a-z0-9#+]+", piece) if w}
    return anchors


def unnamed_scope(file_pattern: str, text: str) -> bool:
    """Whether a search's `file_pattern` has no anchor (folder, file-name word, extension or a word for
    it) among the words of the user's `text`."""
    words = _words(text)
    return not any(anchor in words or anchor.removesuffix("s") in words for anchor in _anchors(file_pattern))


def invents_scope(decision: RunningDecision | CompleteDecision | None, text: str) -> bool:
    """Whether a decision scopes `codebase_search` to a `file_pattern` with no anchor in the user's text."""
    if not isinstance(decision, RunningDecision) or not isinstance(decision.tool_use, CodebaseSearchCall):
        return False
    pattern = decision.tool_use.arguments.file_pattern
    return pattern is not None and unnamed_scope(pattern, text)


_DECLARATION = {"class", "def", "func", "function", "fn", "interface", "struct", "enum", "trait", "type", "impl",
                "const", "import"}
"""Code keywords that, followed by one name, make a query a literal declaration ("class User")."""
_SYMBOL = re.compile(
    r"[a-z][A-Z]|[A-Za-z0-9]_[A-Za-z0-9]|\w\.\w|^@|\w\(|^[A-Z][A-Z0-9]{4,}$|^[A-Z]+[0-9][A-Z0-9]*$|-[A-Z]|^/\w|::"
)


def _is_symbol(token: str) -> bool:
    """camelCase, snake_case, dotted.names, @decorators, calls(, CONSTANTS (five capitals or more, or with a
    digit: an acronym such as API, JWT or USD is a word of a description), Header-Names, /routes, a::b."""
    return bool(_SYMBOL.search(token.strip("`'\",;:?!")))


_BEHAVIOUR = re.compile(
    r"\bhow (?:does|do|is|are|did)\b|\bwhat happens\b|\bwhat (?:do|does|did) (?:we|it|they) do\b|"
    # "How" in other languages: Polish and Czech, Slovak, Swedish, Italian, Spanish and Portuguese, French,
    # German, Dutch, Turkish, Indonesian, Vietnamese, Greek, Russian, Tagalog; then Hebrew, Korean, Japanese,
    # Chinese. Italian "come" and French "comment" only with a verb after them (English "come from", "a comment").
    r"(?:^|[\s`'\"(])(?:jak|ako|hur|come\s+(?:fa|funziona|gestisce|gestiamo|viene)|c[oó]mo|"
    r"comment\s+(?:fonctionne|fait|g[eè]re)|wie|hoe|nasıl|bagaimana|gimana|thế nào|πώς|как|paano)\s|"
    r"איך|어떻게|どう(?:やって)?|どのように|怎么|如何",
    re.IGNORECASE,
)
"""A question about how something behaves: asked of a symbol, it mixes the name with a behaviour question."""
_LOOKUP_WORDS = {"definition", "defined", "declaration", "declared", "usage", "usages", "use", "uses", "used",
                 "reference", "references", "caller", "callers", "call", "calls", "instantiation", "instantiated",
                 "instances", "import", "imports", "imported", "assignment", "assigned", "set", "where", "occurrences",
                 "mentions", "creation", "created", "raised", "thrown", "emitted", "posted"}
"""Words a model adds to a name it looks up ("MetricClient instantiation"): the query is still the name alone."""
_ARTICLES = {"the", "a", "an"}
"""Dropped from a query that names a symbol ("the ?MAX_RETRIES"): an article is no word of a description."""
_GENERIC_FILE_WORDS = {"c", "h", "doc", "docs", "query", "config", "template", "style", "component", "script", "header"}
"""Words of _EXTENSION_WORDS too common to scope a request by themselves ("in the config files" names no language)."""
_LANGUAGE_WORDS = sorted({word for extension, words in _EXTENSION_WORDS.items() for word in (extension, *words)
                          if len(word) > 1 and word not in _GENERIC_FILE_WORDS})
_EXTENSIONS = sorted(FILE_EXTENSIONS - _GENERIC_FILE_WORDS - {"env", "lock", "log", "service"})
_SCOPED = re.compile(r"\b(?:in|under|inside|within)\s+(?:the\s+|our\s+)?[\w.-]+/"
                     rf"|\b(?:{'|'.join(map(re.escape, _LANGUAGE_WORDS))})\s+(?:code|files|tests|sources?)\b"
                     rf"|\b(?:{'|'.join(map(re.escape, _EXTENSIONS))})\s+files\b"
                     rf"|(?<![\w/.-])\.(?:{'|'.join(map(re.escape, _EXTENSIONS))})\b(?!\.)", re.IGNORECASE)
"""A request scoped to a folder ("under billing/"), a language's files ("in the go code", "python tests"), or
files of an extension ("the toml files", "any .swift files", "ใน .tsx ทั้งหมด": a bare `.ext`, not `a.ext`)."""


def _part_of_a_literal(query: str, text: str) -> bool:
    """Whether the query is most of a string the user quoted inside their request ("which file prints 'retrying
    webhook delivery'" searched as "webhook delivery"): a literal, cut short. A quote that holds the whole
    request ('my lead asked: "find the retry logic"') is reported speech, not a literal."""
    query, words = query.strip().lower(), len(query.split())
    for span in quoted_spans(text):
        span_words = len(span.split())
        if query in span.lower() and 2 <= span_words <= len(text.split()) / 2 and words >= span_words / 2:
            return True
    return False


def search_mode(query: str, text: str) -> Literal["exact", "semantic", "hybrid"]:
    """The contract's mode for an unscoped search of `query`, asked for in the user's `text`. A request scoped
    to a folder or a language's files is `hybrid` even when the search carries no pattern."""
    words = query.split()
    if len(words) >= 2 and _part_of_a_literal(query, text):
        return "exact"
    names = [word for word in words if word.lower().strip("?.,") not in _LOOKUP_WORDS] or words
    symbols = sum(_is_symbol(word) for word in names)
    if symbols:
        names = [word for word in names if word.lower() not in _ARTICLES] or names
    if len(names) <= 1 or (len(names) == 2 and names[0] in _DECLARATION) or symbols == len(names):
        # Names alone: a lookup, unless the user asks how the named thing behaves ("how does ReserveSlot
        # work", "where do we catch IntegrityError and what do we do after") or scoped it.
        return "hybrid" if _BEHAVIOUR.search(text) or _SCOPED.search(text) else "exact"
    quoted = re.search(rf"[`'\"]{re.escape(query.strip())}[`'\"]", text)
    pasted = "\n" in text.strip() and query.strip() in text  # a line of output pasted into the request
    if quoted or pasted:
        return "exact"
    return "hybrid" if symbols or _SCOPED.search(text) else "semantic"
