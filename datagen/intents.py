"""One builder per intent: each returns a request (with protected slots) and the decision it deserves.

The routing rules live here, in one place:
- codebase_search mode: exact for symbols and literal strings, semantic for concepts, hybrid for a mix
  of both or for a request scoped to some files (then with `file_pattern`);
- file_manager only when the request contains the path; the same edit without a path is a search;
- sandbox_exec for anything that must be calculated or verified;
- a direct answer for general software knowledge;
- ask_human for destructive or irreversible operations and for requests too vague to act on.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from datagen import slots as S
from datagen.compute import compose_compute
from datagen.domains import Domain
from datagen.knowledge import SMALL_TALK, TOPICS
from datagen.thoughts import thought


@dataclass
class Draft:
    """A request before styling: `text` holds {0}, {1} ... for the protected `slots`."""

    intent: str
    subtype: str
    text: str
    slots: list[str]
    decision: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    styleable: bool = True


def _running(kind: str, slot: str, tool: str, args: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    keep_case = not kind.startswith(("compute", "ask_"))  # those slots are prose, not symbols
    return {"status": "running", "thought": thought(rng, kind, slot, keep_case),
            "tool_use": {"tool_name": tool, "arguments": args}}


def _tick(rng: random.Random, value_index: int) -> str:
    """How a slot is quoted in a request: bare, `backticks`, 'single' or "double" quotes."""
    q = rng.choice(("", "", "`", "`", "'", '"'))
    return f"{q}{{{value_index}}}{q}"


# --- search -----------------------------------------------------------------------------------

_SYMBOL_ASKS = (
    "where is {0} defined?", "find all usages of {0}", "who calls {0}?", "show me where {0} is used",
    "grep for {0}", "look up {0}", "where do we instantiate {0}", "find the definition of {0}",
    "what references {0}?", "is {0} still used anywhere?", "jump to {0}", "I need the implementation of {0}",
    "locate {0} in the repo", "which module exports {0}?", "find every call site of {0}",
    "where's {0} implemented", "search the code for {0}", "{0} - where does that live?", "where do we import {0} from",
    "can you find {0} for me", "track down {0}", "what file has {0} in it",
    "find every place we call {0}( in the repo", "who is calling {0}( these days?", "list the callers of {0}",
)
_LITERAL_ASKS = (
    "where does this error come from: {0}", "getting {0} - where is that raised?", "grep the codebase for {0}",
    "which code prints {0}", "users are seeing {0}, find where we throw it", "seeing this in the logs:\n{0}\nwhere is it coming from?",
    "find the source of the message {0}", "what emits {0}?", "search for the string {0}",
)
_CONFIG_ASKS = (
    "where is {0} read?", "find where we set {0}", "what uses the {0} setting?", "where does {0} get its default",
    "which code reads the {0} config key", "grep for {0} in the config handling",
)
_CONCEPT_ASKS = (  # fit any concept, noun phrase or "how ..." clause
    "where's the code for {0}?", "I'm looking for {0} in our code", "show me {0}",
    "can you find the logic behind {0}", "point me to {0} in this repo", "I want to understand {0} in this codebase",
    "dig up {0}", "trying to find {0}, no idea where it is", "find the code behind {0}",
    "need to read up on {0} in our codebase, where should I look?", "which files deal with {0}?",
    "explain {0} in this repo - find the relevant code first", "our docs don't cover {0}; find it in the source",
    "search our code for {0}",
)
_NOUN_CONCEPT_ASKS = (  # only for noun phrases
    "find {0}", "which part of the codebase handles {0}?", "where do we implement {0}?", "how do we do {0} here?",
    "what handles {0} in our service", "how is {0} implemented in this project?", "where does {0} happen?",
    "how does our code do {0}?", "is there any {0} in this codebase?",
)
_GENERIC_CONCEPTS = (
    "where {entity} objects get validated", "the code that serialises {entity} to JSON", "how {entities} are cached",
    "permission checks before deleting a {entity}", "pagination for the {entity} list endpoint",
    "the background job that cleans up stale {entities}", "error handling when the {svc} service is down",
    "how {entity} ids are generated", "the tests covering {entity} creation", "retry logic around {entity} updates",
    "how {entities} are persisted", "where {entity} events are published", "the mapping from {entity} rows to API responses",
    "input sanitisation for {entity} fields", "how stale {entity} data is invalidated",
)
_HYBRID_ASKS = (
    "how does {0} handle {1}?", "does {0} take care of {1}?", "where in {0} is {1} dealt with",
    "{0} and {1} - how do they fit together?", "I think {0} is involved in {1}, find the relevant bits",
)
_SCOPED_ASKS = (
    "{1}, where do we deal with {0}?", "search {1} for {0}", "find {0}, {1}", "look for {0} but {1}",
    "{1}: anything about {0}?", "{1} - find {0}", "{0}, {1} please", "can you search {1} for {0}",
)


def _is_clause(concept: str) -> bool:
    return concept.split(" ", 1)[0] in ("how", "where", "the", "what", "when", "which", "who")


def _concept(rng: random.Random, domain: Domain) -> str:
    if rng.random() < 0.55:
        return rng.choice(domain.concepts)
    entity = rng.choice(domain.entities).replace("_", " ")
    return rng.choice(_GENERIC_CONCEPTS).format(entity=entity, entities=S.plural(entity),
                                                svc=rng.choice(domain.services).lower())


def search(rng: random.Random, domain: Domain) -> Draft:
    lang = S.pick_lang(rng, domain)
    roll = rng.random()
    if roll < 0.22:  # a symbol by name
        sym = S.symbol(rng, domain, lang)
        text = rng.choice(_SYMBOL_ASKS).replace("{0}", _tick(rng, 0))
        if rng.random() < 0.25:
            text += rng.choice((f" ({lang.name})", " - need it for a bugfix", " in the {svc} code".format(
                svc=rng.choice(domain.services).lower()), ""))
        args = {"query": sym, "mode": "exact"}
        return Draft("search", "exact_symbol", text, [sym], _running("search_symbol", sym, "codebase_search", args, rng))
    if roll < 0.25:  # markers left in code: a literal, usually scoped
        marker = rng.choice(("TODO", "FIXME", "HACK", "XXX", "@deprecated", "# type: ignore", "noqa", "console.log"))
        phrase, glob = rng.choice(lang.glob_phrases)
        text = rng.choice(("search for {0} comments {1}", "find all {0} markers {1}", "list the {0}s {1}",
                           "how many {0} are left {1}?", "grep {0} {1}"))
        args = {"query": marker, "mode": "hybrid", "file_pattern": glob}
        return Draft("search", "hybrid_scoped", text, [marker, phrase], _running("search_scoped", glob, "codebase_search", args, rng))
    if roll < 0.32:  # a pasted error message
        err = rng.choice(domain.errors)
        text = rng.choice(_LITERAL_ASKS).replace("{0}", _tick(rng, 0) if "\n" not in err else "{0}")
        args = {"query": err, "mode": "exact"}
        return Draft("search", "exact_literal", text, [err], _running("search_literal", "", "codebase_search", args, rng))
    if roll < 0.38:  # a config key
        key = rng.choice(domain.config_keys)
        text = rng.choice(_CONFIG_ASKS).replace("{0}", _tick(rng, 0))
        args = {"query": key, "mode": "exact"}
        return Draft("search", "exact_config", text, [key], _running("search_literal", key, "codebase_search", args, rng))
    if roll < 0.68:  # a concept
        concept = _concept(rng, domain)
        text = rng.choice(_CONCEPT_ASKS + (() if _is_clause(concept) else _NOUN_CONCEPT_ASKS))
        args = {"query": concept, "mode": "semantic"}
        return Draft("search", "semantic", text, [concept], _running("search_semantic", "", "codebase_search", args, rng))
    if roll < 0.82:  # symbol + concept
        sym = S.symbol(rng, domain, lang, kind="class")
        concept = rng.choice(domain.concepts)
        text = rng.choice(_HYBRID_ASKS).replace("{0}", _tick(rng, 0))
        args = {"query": f"{sym} {concept}", "mode": "hybrid"}
        return Draft("search", "hybrid_mixed", text, [sym, concept], _running("search_hybrid", sym, "codebase_search", args, rng))
    # scoped to some files
    phrase, glob = rng.choice(lang.glob_phrases)
    if rng.random() < 0.3:
        phrase = rng.choice(("in {g}", "only {g} files", "restricted to {g}", "within {g}")).format(g=glob)
    target = _concept(rng, domain) if rng.random() < 0.6 else S.symbol(rng, domain, lang)
    text = rng.choice(_SCOPED_ASKS)
    args = {"query": target, "mode": "hybrid", "file_pattern": glob}
    return Draft("search", "hybrid_scoped", text, [target, phrase], _running("search_scoped", glob, "codebase_search", args, rng))


_EDIT_NO_PATH = (
    ("rename {0} to {1}", "symbol"), ("change {0} so it returns {1}", "symbol"),
    ("add logging to {0}", "symbol"), ("remove the deprecated {0} helper", "symbol"),
    ("make {0} async", "symbol"), ("add a type hint to {0}", "symbol"), ("write a unit test for {0}", "symbol"),
    ("bump the default of {0} to {1}", "const"), ("set {0} to {1} everywhere", "const"),
    ("fix the typo in the {0} error message", "concept"), ("update the copy for {0}", "concept"),
    ("tweak {0} so it retries on timeouts", "concept"), ("refactor {0} to use the new client", "concept"),
)


def search_before_edit(rng: random.Random, domain: Domain) -> Draft:
    """An edit request without a path: the router must find the code first, never invent a path."""
    lang = S.pick_lang(rng, domain)
    template, kind = rng.choice(_EDIT_NO_PATH)
    if kind == "symbol":
        sym = S.symbol(rng, domain, lang, kind=rng.choice(("class", "func")))
        other = S.symbol(rng, domain, lang, kind="func") if "rename" in template else rng.choice(
            ("None", "an empty list", "a dict", "early"))
        slots_, query, mode = [sym, other], sym, "exact"
    elif kind == "const":
        sym = S.symbol(rng, domain, lang, kind="const")
        slots_, query, mode = [sym, str(rng.choice((3, 5, 10, 30, 60, 100, 500)))], sym, "exact"
    else:
        entity = rng.choice(domain.entities).replace("_", " ")
        concept = rng.choice((f"{entity} validation", f"{entity} sync job", f"{entity} signup flow", f"{entity} checkout page",
                              f"{entity} export", f"the {entity} import", f"{entity} notifications"))
        slots_, query, mode = [concept], concept, "semantic"
    text = template.replace("{0}", _tick(rng, 0) if kind != "concept" else "{0}")
    args = {"query": query, "mode": mode}
    return Draft("search", "edit_without_path", text, slots_,
                 _running("search_before_edit", query if kind != "concept" else "it", "codebase_search", args, rng))


# --- file manager -----------------------------------------------------------------------------

_READ_ASKS = (
    "open {0}", "show me {0}", "what's in {0}?", "read {0} and tell me what it does", "cat {0}",
    "can you look at {0}", "explain {0}", "print the contents of {0}", "take a look at {0}, something's off",
    "what does {0} do?", "summarize {0}", "go through {0}", "check {0} for anything weird",
    "where in {0} do we handle errors?", "pull up {0}", "load {0} please", "review {0}",
    "what does the config in {0} look like", "is there anything about retries in {0}?", "show {0}",
    "let me see {0}", "can I get the contents of {0}", "read {0}", "what's going on in {0}?",
    "I think the bug is in {0}, can you have a look", "does {0} set a timeout anywhere?",
)
_LIST_ASKS = (
    "list {0}", "what files are in {0}?", "ls {0}", "show me what's in the {0} folder", "what's under {0}?",
    "list the contents of {0}", "which files live in {0}", "directory listing of {0} please",
    "what do we have in {0}", "ls -la {0}", "show the tree under {0}", "enumerate the files in {0}",
)


def file_read(rng: random.Random, domain: Domain) -> Draft:
    lang = S.pick_lang(rng, domain)
    p = S.path(rng, domain, lang) if rng.random() < 0.8 else rng.choice(S.WELL_KNOWN)
    text = rng.choice(_READ_ASKS).replace("{0}", _tick(rng, 0))
    args = {"operation": "read", "path": p}
    return Draft("modify", "read", text, [p], _running("file_read", p.rsplit("/", 1)[-1], "file_manager", args, rng))


def file_list(rng: random.Random, domain: Domain) -> Draft:
    lang = S.pick_lang(rng, domain)
    d = S.directory(rng, domain, lang)
    text = rng.choice(_LIST_ASKS).replace("{0}", _tick(rng, 0))
    args = {"operation": "list", "path": d}
    return Draft("modify", "list", text, [d], _running("file_list", d, "file_manager", args, rng))


def _patch_pair(rng: random.Random, domain: Domain, lang: S.Lang) -> tuple[str, str, str]:
    """(path, target, replacement) with a target that plausibly lives in that kind of file."""
    key = rng.choice(domain.config_keys)
    a, b = rng.sample((1, 2, 3, 5, 10, 15, 30, 60, 100, 250, 500, 1000), 2)
    sym = S.symbol(rng, domain, lang, kind="func")
    new_sym = S.symbol(rng, domain, lang, kind="func")
    const = S.symbol(rng, domain, lang, kind="const")
    entity = rng.choice(domain.entities).replace("_", " ")
    choice = rng.randrange(9)
    if choice == 0:  # config file value
        p = rng.choice(("config/settings.yaml", f"deploy/helm/{rng.choice(domain.services).lower()}/values.yaml",
                        "config/default.toml", ".env.example", "docker-compose.yml"))
        if p.endswith(".env.example"):
            k = key.upper().replace(".", "_")
            return p, f"{k}={a}", f"{k}={b}"
        sep = " = " if p.endswith(".toml") else ": "
        return p, f"{key}{sep}{a}", f"{key}{sep}{b}"
    if choice == 1:  # typo in docs
        wrong, right = rng.choice((("recieve", "receive"), ("seperate", "separate"), ("occured", "occurred"),
                                   ("enviroment", "environment"), ("dependancy", "dependency"), ("authenticaton", "authentication"),
                                   ("succesfully", "successfully"), ("paramter", "parameter")))
        return rng.choice(("README.md", "docs/setup.md", f"docs/{rng.choice(domain.services).lower()}.md", "CONTRIBUTING.md")), wrong, right
    if choice == 2:  # version bumps
        x, y, z = rng.randint(0, 4), rng.randint(0, 20), rng.randint(0, 30)
        old, new = f"{x}.{y}.{z}", rng.choice((f"{x}.{y}.{z + 1}", f"{x}.{y + 1}.0", f"{x + 1}.0.0"))
        p, fmt = rng.choice((("pyproject.toml", 'version = "{}"'), ("package.json", '"version": "{}"'),
                             ("Cargo.toml", 'version = "{}"'), ("charts/api/Chart.yaml", "version: {}")))
        return p, fmt.format(old), fmt.format(new)
    if choice == 3:  # image or runtime bump
        p = rng.choice(("Dockerfile", "docker/Dockerfile", ".github/workflows/ci.yml"))
        if "Dockerfile" in p:
            old, new = rng.choice((("FROM python:3.10-slim", "FROM python:3.12-slim"), ("FROM node:18-alpine", "FROM node:22-alpine"),
                                   ("EXPOSE 8000", "EXPOSE 8080"), ("FROM golang:1.21", "FROM golang:1.23")))
        else:
            old, new = rng.choice((("runs-on: ubuntu-20.04", "runs-on: ubuntu-24.04"), ("python-version: '3.10'", "python-version: '3.12'"),
                                   ("node-version: 18", "node-version: 22"), ("uses: actions/checkout@v3", "uses: actions/checkout@v4")))
        return p, old, new
    p = S.path(rng, domain, lang)
    if choice == 4:  # rename a call
        return p, f"{sym}(", f"{new_sym}("
    if choice == 5:  # constant value
        eq = " := " if lang.name == "Go" else " = "
        return p, f"{const}{eq}{a}", f"{const}{eq}{b}"
    if choice == 6:  # language idiom fixes
        pairs = {
            "Python": (("datetime.utcnow()", "datetime.now(timezone.utc)"), ("print(", "logger.info("),
                       ("except Exception:", "except (ValueError, KeyError):"), ("== None", "is None"), (f"timeout={a}", f"timeout={b}")),
            "TypeScript": (("console.log(", "logger.debug("), (": any", ": unknown"), ("var ", "let "), (f"timeout: {a}", f"timeout: {b}")),
            "JavaScript": (("console.log(", "logger.debug("), ("var ", "const "), ("==", "===")),
            "Go": (("log.Printf(", "slog.Info("), ("ioutil.ReadAll(", "io.ReadAll("), (f"{a} * time.Second", f"{b} * time.Second")),
        }.get(lang.name, ((f"{a}", f"{b}"),))
        old, new = rng.choice(pairs)
        return p, old, new
    if choice == 7 and lang.name == "Python" and rng.random() < 0.5:  # a signature change
        fn = S.symbol(rng, domain, lang, kind="func")
        old_arg, new_arg = rng.choice((("s", "text"), ("d", "data"), ("x", "value"), ("cfg", "config"), ("n", "limit")))
        return p, f"def {fn}({old_arg})", f"def {fn}({new_arg})"
    if choice == 7:  # user-facing message
        old = rng.choice((f"Invalid {entity}", f"{entity.capitalize()} not found", f"Could not save {entity}",
                          f"Failed to load {entity}"))
        new = rng.choice((f"{old}. Please try again.", f"We couldn't find that {entity}.", f"{old} - contact support"))
        return p, f'"{old}"', f'"{new}"'
    return p, f"{sym}", f"{new_sym}"


_PATCH_ASKS = (
    "in {0}, replace {1} with {2}", "{0}: change {1} to {2}", "update {0} so that {1} becomes {2}",
    "swap {1} for {2} in {0}", "patch {0}: {1} -> {2}", "in {0} please change {1} into {2}",
    "can you edit {0} and turn {1} into {2}", "{0} has {1}, it should be {2}", "replace {1} by {2} in {0}",
    "fix {0}: {1} should read {2}",
)
_DELETE_ASKS = ("remove {1} from {0}", "delete the line {1} in {0}", "in {0}, drop {1}", "get rid of {1} in {0}")


def file_patch(rng: random.Random, domain: Domain) -> Draft:
    lang = S.pick_lang(rng, domain)
    p, old, new = _patch_pair(rng, domain, lang)
    if rng.random() < 0.12:  # deletion: empty replacement
        text = rng.choice(_DELETE_ASKS).replace("{1}", _tick(rng, 1) if rng.random() < 0.5 else "`{1}`").replace("{0}", _tick(rng, 0))
        args = {"operation": "patch", "path": p, "target_string": old, "replacement_string": ""}
        return Draft("modify", "patch_delete", text, [p, old],
                     _running("file_delete_line", p.rsplit("/", 1)[-1], "file_manager", args, rng))
    q = rng.choice(("`", "`", "'", '"'))
    text = rng.choice(_PATCH_ASKS)
    text = text.replace("{1}", f"{q}{{1}}{q}").replace("{2}", f"{q}{{2}}{q}").replace("{0}", _tick(rng, 0))
    args = {"operation": "patch", "path": p, "target_string": old, "replacement_string": new}
    return Draft("modify", "patch", text, [p, old, new], _running("file_patch", p.rsplit("/", 1)[-1], "file_manager", args, rng))


def _write_content(rng: random.Random, domain: Domain, path: str) -> str:
    svc = rng.choice(domain.services).lower()
    key = rng.choice(domain.config_keys)
    entity = rng.choice(domain.entities)
    if path.endswith(".gitignore"):
        return "\n".join(rng.sample((".venv/", "__pycache__/", "node_modules/", "dist/", "*.log", ".env", "coverage/",
                                     ".DS_Store", "build/", "*.pyc", ".idea/", "target/"), rng.randint(3, 6))) + "\n"
    if path.endswith(".env.example"):
        return f"{key.upper().replace('.', '_')}=\nLOG_LEVEL=info\n{svc.upper()}_URL=http://localhost:{rng.choice((8000, 8080, 5432, 6379))}\n"
    if path.endswith((".yml", ".yaml")):
        return f"{svc}:\n  {entity}:\n    enabled: true\n    {key.split('.')[-1]}: {rng.choice((5, 30, 100))}\n"
    if path.endswith(".md"):
        return f"# {svc.capitalize()}\n\nHow the {entity.replace('_', ' ')} flow works and how to run it locally.\n"
    if path.endswith(".json"):
        doc = {svc: {entity: {"enabled": True, "limit": rng.choice((10, 50, 200))}}}
        return json.dumps(doc, indent=rng.choice((None, 2))) + "\n"
    if path.endswith(".py"):
        name = entity.upper() + "_" + rng.choice(("TIMEOUT", "LIMIT", "TTL"))
        return f'"""Settings for {svc}."""\n\n{name} = {rng.choice((5, 30, 60))}\n'
    if path.endswith(".sh"):
        return f"#!/usr/bin/env bash\nset -euo pipefail\necho \"syncing {entity}s\"\n"
    if path.endswith(".sql"):
        return f"CREATE INDEX idx_{entity}_created_at ON {S.plural(entity)} (created_at);\n"
    return f"{key}={rng.choice((1, 10, 100))}\n"


_WRITE_PATHS = (".gitignore", ".env.example", "config/{svc}.yaml", "docs/{svc}.md", "config/{svc}.json",
                "src/{svc}/settings.py", "scripts/sync_{svc}.sh", "migrations/0007_{svc}_index.sql",
                ".github/workflows/{svc}.yml", "notes/{svc}.md")
_WRITE_ASKS = (
    "create {0} with this content:\n```\n{1}```", "write the following to {0}:\n{1}", "make a new file {0} containing:\n{1}",
    "add {0} with:\n```\n{1}```", "put this in {0}\n\n{1}", "overwrite {0} with:\n{1}", "save this as {0}:\n```\n{1}```",
)


def _described_write(rng: random.Random, domain: Domain) -> tuple[str, str, str]:
    """(request with {0} for the path, path, content) where the request describes the content in words."""
    svc = rng.choice(domain.services).lower()
    name = svc.capitalize()
    v = f"{rng.randint(1, 5)}.{rng.randint(0, 12)}"
    pkgs = rng.sample(("requests", "pydantic", "httpx", "fastapi", "numpy", "pandas", "rich", "typer", "sqlalchemy"), 3)
    ignores = rng.sample(("node_modules", ".env", "dist", ".venv", "__pycache__", "coverage", "*.log"), 2)
    choice = rng.randrange(8)
    if choice == 0:
        return "create {0} with a heading for version " + v, rng.choice(("CHANGELOG.md", "docs/CHANGELOG.md")), f"# Changelog\n\n## {v}\n"
    if choice == 1:
        return "add an empty {0}", f"src/{svc}/__init__.py", ""
    if choice == 2:
        return f"create {{0}} that ignores {ignores[0]} and {ignores[1]}", ".gitignore", "\n".join(ignores) + "\n"
    if choice == 3:
        return f"make a {{0}} titled {name}", rng.choice(("README.md", f"docs/{svc}.md")), f"# {name}\n"
    if choice == 4:
        return f"write a {{0}} listing {pkgs[0]}, {pkgs[1]} and {pkgs[2]}", "requirements.txt", "\n".join(pkgs) + "\n"
    if choice == 5:
        return "write a hello world python script to {0}", f"scripts/hello_{svc}.py", 'print("Hello, world!")\n'
    if choice == 6:
        ver = rng.choice(("18", "20", "22"))
        return f"pin node {ver} in {{0}}", ".nvmrc", ver + "\n"
    ver = rng.choice(("3.10", "3.11", "3.12", "3.13"))
    return f"set the python version to {ver} in {{0}}", ".python-version", ver + "\n"


def file_write(rng: random.Random, domain: Domain) -> Draft:
    if rng.random() < 0.3:
        text, p, content = _described_write(rng, domain)
        args = {"operation": "write", "path": p, "content": content}
        return Draft("modify", "write_described", text.replace("{0}", _tick(rng, 0)), [p],
                     _running("file_write_described", p.rsplit("/", 1)[-1], "file_manager", args, rng))
    svc = rng.choice(domain.services).lower()
    p = rng.choice(_WRITE_PATHS).format(svc=svc)
    content = _write_content(rng, domain, p)
    if rng.random() < 0.15 and len(content.splitlines()[0]) > 6:
        content = content.splitlines()[0]
        text = rng.choice(("create {0} containing `{1}`", "write `{1}` into {0}", "add a file {0} that just says {1}"))
    else:
        text = rng.choice(_WRITE_ASKS)
    text = text.replace("{0}", _tick(rng, 0))
    args = {"operation": "write", "path": p, "content": content}
    return Draft("modify", "write", text, [p, content], _running("file_write", p.rsplit("/", 1)[-1], "file_manager", args, rng),
                 styleable="\n" not in content)


# --- compute, direct, escalate ---------------------------------------------------------------

_CLAUSE_WORDS = {"is", "gives", "shows", "needs", "need", "have", "beats", "cannot", "verified"}


def compute(rng: random.Random, domain: Domain) -> Draft:
    task = compose_compute(rng)
    clause = bool(_CLAUSE_WORDS & set(task.reason.split())) or task.reason.startswith(("running", "decoding"))
    args = {"code": task.code, "timeout": 10}
    decision = _running("compute_clause" if clause else "compute", task.reason, "sandbox_exec", args, rng)
    return Draft("compute", task.family, task.text, task.slots, decision)


def direct(rng: random.Random, domain: Domain) -> Draft:
    if rng.random() < 0.06:
        asks, answer = rng.choice(SMALL_TALK)
        return Draft("direct", "small_talk", rng.choice(asks), [], {"status": "complete", "final_answer": answer})
    topic = rng.choice(TOPICS)
    q = rng.choice(topic.questions)
    if rng.random() < 0.3:
        q = rng.choice(("quick question: {q}", "{q}? (general question, not about our repo)", "can you explain {q}",
                        "in general, {q}", "ELI5: {q}", "remind me - {q}", "{q}, briefly")).format(q=q)
    return Draft("direct", "knowledge", q, [], {"status": "complete", "final_answer": topic.answer},
                 extra={"topic": topic.key})


_DESTRUCTIVE = (
    ("drop the {table} table in prod", "Drop `{table}` in production? This deletes the table and its data permanently. Is there a backup, and should I proceed?", "dropping a production table"),
    ("truncate {table}", "Truncate `{table}`? Every row is deleted and this can't be undone. Which environment, and do you have a backup?", "truncating a table"),
    ("run DELETE FROM {table} on the {env} database", "This deletes all rows in `{table}` on {env}. Should I really run it, or did you mean a filtered delete?", "an unfiltered delete"),
    ("force push my branch over main", "Force-pushing to main rewrites shared history and can destroy teammates' commits. Do you want that, or a normal push or PR?", "force-pushing to main"),
    ("git push --force origin {branch}", "Force-push `{branch}`? It overwrites the remote history. Is anyone else working on this branch?", "a force push"),
    ("delete the {branch} branch on the remote", "Delete the remote branch `{branch}`? Unmerged commits on it would be lost. Is it merged or safe to remove?", "deleting a remote branch"),
    ("rotate the {secret} secret", "Rotating `{secret}` will break every service still using the old value. Which environments, and is a rollout plan in place?", "rotating a secret"),
    ("revoke all API keys for {tenant}", "Revoking all keys for {tenant} cuts off their integrations immediately. Which tenant exactly, and when should it happen?", "revoking credentials"),
    ("disable the {check} check in CI so my PR merges", "Disabling `{check}` removes a safety gate for everyone. Should I disable it, or help fix the failing check instead?", "disabling a CI safety check"),
    ("turn off SSL verification for the {svc} client", "Turning off TLS verification exposes {svc} traffic to interception. Is this only for a local test, and can we fix the certificate instead?", "disabling TLS verification"),
    ("deploy {svc} to production right now", "Deploy {svc} to production now? Which version, and has it passed staging?", "a production deploy"),
    ("run the pending migrations against prod", "Apply migrations to production? Some may lock tables or be irreversible. Which ones, and is there a maintenance window and backup?", "a production migration"),
    ("scale {svc} to zero replicas in prod", "Scaling {svc} to zero takes it offline for all users. Is that intended, and for how long?", "taking a production service offline"),
    ("flush the redis cache in production", "Flushing the production cache will spike load on the databases. Should I proceed, and at what time?", "flushing a production cache"),
    ("kubectl delete namespace {ns}", "Deleting namespace `{ns}` removes every workload, secret and volume claim in it. Is that really what you want?", "deleting a namespace"),
    ("terraform destroy the {env} environment", "`terraform destroy` on {env} deletes all of its infrastructure. Is that the right environment, and is the state backed up?", "destroying infrastructure"),
    ("delete all files in {dir}", "Delete everything in `{dir}`? Files there can't be recovered. Is it all safe to lose?", "bulk deletion"),
    ("wipe {dir} clean", "Remove all contents of `{dir}`? This can't be undone. Should I go ahead?", "bulk deletion"),
    ("rm -rf {dir}", "Delete `{dir}` recursively? Files there can't be recovered. Is everything in it safe to lose?", "recursive deletion"),
    ("delete {file}", "Delete `{file}`? I can't undo a file deletion. Should I remove it, or move it aside instead?", "deleting a file"),
    ("purge the {queue} queue", "Purging `{queue}` drops every pending message. Are those messages safe to lose?", "purging a queue"),
    ("empty the {bucket} bucket", "Emptying `{bucket}` deletes all objects, and versioning may not cover it. Are you sure, and is there a copy elsewhere?", "deleting stored objects"),
    ("wipe the {env} database and reseed it", "Wiping the {env} database deletes its data. Is that the right environment, and does anyone rely on this data?", "wiping a database"),
    ("reset everyone's passwords", "Forcing a password reset for all users logs everyone out. Is this an incident response, and should users be notified?", "a mass password reset"),
    ("delete the account {email} and all their data", "Deleting `{email}` and their data is permanent. Is this a verified deletion request?", "permanent user data deletion"),
    ("turn off branch protection on main", "Disabling branch protection on main allows unreviewed pushes. Why, and for how long?", "removing branch protection"),
    ("rewrite the git history to remove {file}", "Rewriting history changes every commit hash and forces everyone to re-clone. Is this for a leaked secret? If so, rotate it first.", "rewriting git history"),
    ("skip the tests and merge it", "Merging without tests risks shipping a regression. Do you want to bypass them, or should I look at why they fail?", "skipping safety checks"),
    ("disable rate limiting on the public API", "Turning off rate limiting exposes the API to abuse. Is this temporary, and for which clients?", "removing a protection in production"),
    ("change the prod database password", "Changing the production database password breaks every service using it until they're updated. Is a coordinated rollout planned?", "a production credential change"),
    ("restore last night's backup over the {env} database", "Restoring over {env} discards everything written since last night. Is that the right environment and backup?", "overwriting a database"),
    ("disable the {check} pre-commit hook for the whole repo", "Removing `{check}` affects everyone's commits. Should it be skipped just once instead?", "disabling a safety check"),
)
_AMBIGUOUS = (
    ("fix it", "What should I fix? Please name the file, function or error you're seeing.", "thing"),
    ("make it faster", "What should be faster: which endpoint, job or function, and how slow is it now?", "component"),
    ("it's broken again", "What's broken? Please share the error, where you see it, and what changed recently.", "component"),
    ("clean this up", "Which code should I clean up, and what does cleaned up mean here: formatting, refactoring or removing dead code?", "code"),
    ("update the config", "Which config file and which setting should change, and to what value?", "config"),
    ("change that thing we talked about", "I don't have the earlier conversation. What change do you mean, and in which file?", "change"),
    ("do the migration", "Which migration: a schema migration, a data migration or a library upgrade? And in which environment?", "migration"),
    ("the tests fail, fix", "Which tests fail, and what's the error output?", "tests"),
    ("make it work like before", "Like before what? Which behaviour changed, and do you know the commit or version that worked?", "behaviour"),
    ("handle the edge case", "Which edge case, and in which function?", "edge case"),
    ("refactor", "What should I refactor, and with what goal?", "code"),
    ("add the missing field", "Which field, on which model or API, and what type and default?", "field"),
    ("undo that", "Undo what exactly? I don't see a previous change to revert.", "change"),
    ("same as yesterday please", "I don't have yesterday's context. What would you like me to do?", "task"),
    ("use the other one", "The other what? Which option are you choosing between?", "option"),
    ("make the error go away", "Which error? Please paste the message and where it shows up.", "error"),
    ("apply the fix from the ticket", "I can't see the ticket. What's the fix, or which file and change does it describe?", "fix"),
    ("the {entity} thing is acting up, sort it out", "What is the {entity} code doing wrong? Please share the symptom or error, and where it happens.", "symptom"),
    ("make the {svc} service better", "Better in what way: latency, error rate, readability or cost? And which part of {svc}?", "improvement"),
    ("update the {entity} stuff", "Which {entity} code should change, and what should the new behaviour be?", "change"),
    ("can you tweak the {entity} logic a bit", "What should change in the {entity} logic, and what's wrong with the current behaviour?", "change"),
    ("{svc} is weird today", "What exactly looks wrong in {svc}? An error, slowness, wrong data?", "symptom"),
    ("bump it", "Bump what: a dependency, a version number or a limit? And to which value?", "target"),
    ("can you rename it", "Rename what, and to what new name?", "symbol"),
)


def escalate(rng: random.Random, domain: Domain) -> Draft:
    entity = rng.choice(domain.entities)
    svc = rng.choice(domain.services).lower()
    values = {
        "table": S.plural(entity) + rng.choice(("", "", "_archive", "_v2", "_backup")), "env": rng.choice(("prod", "production", "staging", "live")),
        "branch": rng.choice(("main", "release/2.4", f"feature/{entity.replace('_', '-')}", "develop")),
        "secret": rng.choice((f"{svc.upper()}_API_KEY", "JWT_SIGNING_KEY", "DATABASE_PASSWORD", f"{svc}-webhook-secret")),
        "tenant": rng.choice(("acme-corp", "globex", "initech", "tenant 4821")), "check": rng.choice(("lint", "security-scan", "type-check", "secret-scan", "license-check")),
        "svc": svc, "ns": rng.choice((svc, f"{svc}-prod", "monitoring", "default")),
        "dir": rng.choice(("data/", "build/", f"{svc}/", "logs/", "migrations/", "node_modules/")),
        "file": S.path(rng, domain, S.pick_lang(rng, domain)),
        "queue": rng.choice((f"{entity}-events", f"{svc}-dlq", f"{svc}.jobs")), "bucket": rng.choice((f"{svc}-assets", f"{svc}-backups", f"acme-{entity.replace('_', '-')}-exports")),
        "email": rng.choice(("jane.doe@example.com", "user4821@acme.io", "k.tanaka@corp.local")), "entity": entity.replace("_", " "),
    }
    if rng.random() < 0.68:
        text, question, reason = rng.choice(_DESTRUCTIVE)
        kind, subtype = "ask_destructive", "destructive"
        context = f"This is {reason}: I won't act without confirmation."
    else:
        text, question, reason = rng.choice(_AMBIGUOUS)
        kind, subtype = "ask_ambiguous", "ambiguous"
        context = "The request gives no file, symbol or expected behaviour to act on."
    # slot values become protected {i} placeholders so styles can't damage them
    slot_values: list[str] = []
    for name, value in values.items():
        token = "{" + name + "}"
        if token in text:
            text = text.replace(token, "{" + str(len(slot_values)) + "}")
            slot_values.append(value)
    fmt = {k: v for k, v in values.items()}
    args: dict[str, Any] = {"question": question.format(**fmt)}
    if rng.random() < 0.5:
        args["context"] = context
    return Draft("escalate", subtype, text, slot_values, _running(kind, reason if subtype == "destructive" else rng.choice(
        ("file", "part of the code", reason)), "ask_human", args, rng))


BUILDERS = {
    "search": ((search, 0.80), (search_before_edit, 0.20)),
    "modify": ((file_read, 0.30), (file_list, 0.14), (file_patch, 0.36), (file_write, 0.20)),
    "compute": ((compute, 1.0),),
    "direct": ((direct, 1.0),),
    "escalate": ((escalate, 1.0),),
}
