"""Thoughts: one short line that names the reason for the choice, in many wordings.

A thought is built from a reason clause and an action clause drawn independently, so the same
decision is explained in dozens of ways. Slot values ({s}) are short (a symbol, a file name), never
a copy of the request. Kept to roughly 8-22 words: every generated token costs latency when serving; `shorten` keeps only
the reason clause (6-12 words), for the shorter-thought variant the speed issue measures.
"""

from __future__ import annotations

import random

_JOIN = (", so ", "; ", " - ", ". ", ", which means ")

# kind -> (reasons, actions). {s} is a short slot value.
BANK: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "search_symbol": (
        ("{s} reads like a class or function name", "the user refers to {s} by name", "a known identifier is the anchor here", "{s} is a concrete identifier", "the request names the symbol {s}", "we have an exact name to match",
         "{s} looks like a real code symbol", "there is no path, only the name {s}", "a specific identifier was given",
         "this is a lookup of a named symbol", "the user knows the name but not the file"),
        ("grep for it exactly", "an exact-mode search is the fastest route", "an exact search finds its definition and usages", "match it verbatim across the repo",
         "a literal lookup beats semantic search here", "exact mode avoids fuzzy noise",
         "search for the exact token first", "exact matching will pinpoint it quickly",
         "a verbatim search locates where it lives")),
    "search_literal": (
        ("the user pasted exact output", "verbatim text is the strongest clue here", "this wording appears literally in the source", "that message is a literal string", "the pasted text is verbatim output from the code",
         "an error string like this is emitted from one place", "a quoted string is the best anchor",
         "{s} is a literal config key", "the exact wording is known"),
        ("find its origin with an exact search", "exact matching on the message finds the source", "an exact search shows where it is raised", "search for it verbatim", "exact mode will find the emitting code",
         "a literal match leads straight to the source", "look it up exactly rather than by meaning")),
    "search_semantic": (
        ("the request describes a behaviour of our own code", "there is no exact token to grep for", "only a description of the logic is given", "this needs the repository, not general knowledge", "this asks about behaviour, not a name", "no identifier is given, only a description",
         "the answer lives in this repository, not in general knowledge", "I don't know which functions implement it",
         "it's a conceptual question about our code", "the request describes what the code does",
         "this is about how the system works internally"),
        ("a meaning-based search fits best", "semantic search is the right mode", "a semantic search should surface the relevant logic", "search by meaning", "semantic mode finds code by intent",
         "let the embedding search find the right module", "start with a concept search over the codebase")),
    "search_hybrid": (
        ("{s} plus a description of its behaviour", "a name and an idea are both given", "it mixes the name {s} with a behaviour question", "there's a symbol and a concept in one request",
         "{s} anchors the search but the question is conceptual", "part of this is literal and part is descriptive"),
        ("a hybrid search balances the two", "hybrid search covers both", "combine exact and semantic matching", "a hybrid query ranks the right code higher",
         "use hybrid mode to catch the name and the idea")),
    "search_scoped": (
        ("the scope is narrowed to {s}", "results should come only from {s}", "the request is limited to {s}", "only files matching {s} matter", "the user scoped this to {s}",
         "restricting to {s} removes unrelated hits"),
        ("hybrid mode with a glob keeps it focused", "a hybrid search with a file pattern fits", "search with a file_pattern in hybrid mode",
         "scope the search with a glob", "apply the pattern and search in hybrid mode")),
    "search_before_edit": (
        ("I can't patch {s} without knowing its file", "the file to change is unknown", "there's no path to edit yet", "an edit is wanted but no file path was given", "I shouldn't guess which file holds {s}",
         "the change target isn't located yet", "no path was mentioned for this change",
         "editing requires knowing where {s} lives"),
        ("find where it is defined first", "search the repo before touching code", "search for it first", "find the file before patching anything", "locate it in the codebase before editing",
         "a search tells me which file to change", "look it up rather than invent a path")),
    "file_read": (
        ("{s} was named explicitly", "the request points at {s}", "the path is right there in the request", "the user gave the path {s}", "a specific file was named", "{s} is provided explicitly",
         "the exact file is known", "the question is about one named file"),
        ("read the file", "start by reading it", "reading it directly is the right first step", "read that file instead of searching",
         "open it and inspect the contents", "a direct read answers this fastest", "fetch its contents")),
    "file_list": (
        ("the user asked what {s} contains", "a folder listing is requested", "they want to see what's inside {s}", "the request is about a directory's contents", "{s} is a folder the user named",
         "a directory path was given"),
        ("list its entries", "listing it answers that", "list the directory", "a file listing is all that's needed", "list it before reading anything")),
    "file_write": (
        ("the exact content for {s} is in the request", "the user dictated the whole file", "both the path and the full content are provided", "the user supplied exact content for {s}",
         "this creates a file at a given path", "nothing needs to be looked up first"),
        ("write exactly what was given", "write the file", "a direct write is appropriate", "write it with the given content verbatim",
         "create it with file_manager")),
    "file_write_described": (
        ("the path is given and the content is simple enough to write", "{s} is named and its content is described",
         "the request spells out what {s} should contain", "a small file at a given path is requested"),
        ("write it directly", "create it with file_manager", "write the file with that content",
         "a direct write is enough")),
    "file_patch": (
        ("the replacement for {s} is spelled out", "a precise before/after edit in {s} is requested", "the path plus exact before and after strings are given", "it's a single targeted replacement in {s}",
         "the old and new text are both spelled out", "only one snippet of {s} changes"),
        ("patch only that text", "a small patch is safest", "a patch is better than rewriting the file", "apply a targeted patch", "patch just that string",
         "use a minimal patch")),
    "file_delete_line": (
        ("the user wants a specific snippet removed from {s}", "the text to delete is given exactly"),
        ("patch it with an empty replacement", "a patch with empty replacement removes it cleanly")),
    "compute": (
        ("this is {s}", "it needs {s}", "{s} is easy to get wrong mentally", "the answer depends on {s}",
         "guessing would be risky: {s}"),
        ("run a short Python snippet for the exact result", "compute it in the sandbox", "let the sandbox print the answer",
         "a few lines of Python settle it", "execute it rather than estimate")),
    "compute_clause": (
        ("{s}",),
        ("run a short Python snippet", "I'll compute it in the sandbox", "let the sandbox print the answer",
         "a few lines of Python settle it", "execute it rather than estimate", "a quick script prints the exact result")),
    "ask_destructive": (
        ("{s} is hard to reverse", "{s} risks losing data", "a mistake here would hit real users", "{s} is irreversible", "this is a destructive operation", "{s} could cause data loss",
         "this touches production and can't be undone easily", "the action is high-risk", "{s} bypasses a safety control"),
        ("confirm with the user before anything runs", "get a clear yes first", "I need explicit confirmation first", "confirm the exact target before acting", "ask the user to confirm",
         "check scope and backups with the user first", "don't proceed without a human go-ahead")),
    "ask_ambiguous": (
        ("I can't tell which {s} is meant", "the target of this request is unclear", "nothing here says what to change", "the request doesn't say which {s}", "there's no file, symbol or expected behaviour to go on",
         "it's too vague to act on safely", "the intended change is unclear", "key details are missing",
         "several readings are possible"),
        ("ask which one they mean", "clarify before acting", "I need clarification first", "ask what exactly they mean", "ask for specifics before doing anything",
         "a clarifying question saves a wrong edit", "get the missing context from the user")),
}


def thought(rng: random.Random, kind: str, slot: str = "", keep_case: bool = True) -> str:
    reasons, actions = BANK[kind]
    usable = [r for r in reasons if slot or "{s}" not in r] or list(reasons)
    template = rng.choice(usable)
    reason = template.format(s=slot)
    action = rng.choice(actions)
    joint = rng.choice(_JOIN)
    text = reason + joint + action
    if joint == ". ":
        text = reason + ". " + action[0].upper() + action[1:]
    if not template.startswith("{s}") or not keep_case:  # never change the case of a symbol
        text = text[0].upper() + text[1:]
    if not text.endswith("."):
        text += "."
    return " ".join(text.split())


# Longest first, so an action that ends another ("write the file" in "create it ... write the file") never
# cuts a thought in the wrong place.
_ACTIONS = sorted({a for _, actions in BANK.values() for a in actions}, key=len, reverse=True)
MIN_WORDS = 6  # the contract's lower bound on a thought


def shorten(text: str) -> str:
    """The thought's reason clause alone, when that is a valid thought (6+ words); else the thought unchanged.

    A pure function of the text, so a dataset composed with short thoughts has exactly the requests and
    decisions of the full one: only the thoughts differ, which is what an accuracy-against-length
    comparison needs.
    """
    body = text.removesuffix(".")
    for action in _ACTIONS:
        for joint in _JOIN:
            for spelled in (action, action[0].upper() + action[1:]):
                if body.endswith(joint + spelled):
                    reason = body[: -len(joint + spelled)]
                    if len(reason.split()) < MIN_WORDS:
                        return text
                    return reason + "."  # a prefix of the thought: its first letter's case is already right
    return text
