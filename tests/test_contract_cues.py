"""Question cues (contract/cues.py): which phrasings settle a choice, that no gold decision of any dataset is one
a cue rules out, and how the router hands the ruled-out choices to the engine."""

from __future__ import annotations

import asyncio
import json
import math
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest

from contract.cues import question_cue
from service.decision_prior import DecisionPrior, add_weights
from service.engines.llamacpp import _BranchWatch
from service.routing import Router
from service.settings import SHIPPED_PRIOR, Settings
from tests.hardening_fakes import RecordingEngine

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(("query", "cue"), [
    ("what's the difference between process.nextTick and setImmediate?", "general"),
    ("¿qué diferencia hay entre process.nextTick y setImmediate?", "general"),
    ("En Symfony, quelle différence entre un Voter et `#[IsGranted]` ?", "general"),
    ("Jaka jest różnica między IEnumerable a IQueryable w EF Core?", "general"),
    ("khác nhau giữa TRUNCATE và DELETE trong Postgres là gì vậy anh?", "general"),
    ("@Transactional ile @Transactional(readOnly) farkı ne?", "general"),
    ("general C++ q: is std::accumulate guaranteed to add left to right?", "general"),
    ("qual a diferença entre `Mono` e `Flux`?", "general"),  # Portuguese
    ("jaký je rozdíl mezi `==` a `is` v pythonu?", "general"),  # Czech
    ("Vad är skillnaden mellan ref och reactive?", "general"),  # Swedish
    ("у чому різниця між `let` і `var`?", "general"),  # Ukrainian
    ("מה ההבדל בין interface ל-type?", "general"),  # Hebrew
    ("apa perbedaan antara `StatelessWidget` dan `StatefulWidget`?", "general"),  # Indonesian
    ("`map` aur `flatMap` mein kya farq hai?", "general"),  # Hindi-English
    ("Promise.all กับ Promise.allSettled ต่างกันยังไง", "general"),  # Thai
    ("what does the (cached) bit mean in general?", "general"),
    ("Where do we convert wind speed from knots to m/s?", "location"),
    ("¿dónde validamos que el turno de un conductor no pase de 9 horas?", "location"),
    ("dove viene definita la costante MAX_CORSE_GIORNALIERE?", "location"),
    ("chỗ nào trong code tính thời gian ủ nước mắm còn lại vậy?", "location"),
    ("カリヨンコンサートの残り席数ってどこで計算してる？", "location"),
    ("invoice number kahan generate hota hai?", "location"),  # Hindi-English
    ("kde sa overuje podpis webhooku?", "location"),  # Slovak
    ("unde validăm IBAN-ul?", "location"),  # Romanian
    ("rate limiter for the public api - where", "location"),  # a request that ends in "where"
    ("could you remove the `print(\"DEBUG\", x)` line from volunteers/views.py?", "removal"),
    ("xóa dòng `console.log('DEBUG roast', batch)` trong apps/web/src/pages/roast/detail.tsx giúp em", "removal"),
    ("src/components/FalconCard.tsx の `console.log('weight', bird.weight);` を消して", "removal"),
    ("in .eslintrc.cjs get rid of the `no-console` rule", "removal"),
    ("check internal/ledger/posting.go, in which order are the functions called?", "file"),
    ("routes/api.php — is the /kegs/{id}/tap route behind auth or not??", "file"),
    ('Traceback (most recent call last):\n  File "birdnet/audio/loader.py", line 41\nwhat is wrong', "file"),
    ("where in `src/tiles/cache.rs` do we evict?", "file"),  # a where-question about that file
    ("create spec/fixtures/feeds/empty_show.xml with just: <rss></rss>", "creation"),
    ("make requirements-research.txt with pandas==2.2.2, numpy==1.26.4", "creation"),  # a looser verb, content after
    ("utwórz plik src/main/resources/banner.txt z treścią `Billing`", "creation"),
    ("`app/static/robots.txt` bana do, content:\nUser-agent: *", "creation"),  # the verb after the name
    ("φτιάξε ένα άδειο payments/__init__.py", "creation"),
    ("búðu til requirements-dev.txt með:\npytest==8.2.0", "creation"),  # Icelandic
    ("in app/settings.py change `DEBUG = True` to `DEBUG = False`", "swap"),
    ("failis cmd/api/main.go muuda `Timeout: 5` -> `Timeout: 10`", "swap"),  # Estonian: the connector is an arrow
    ("hver er munurinn á list og tuple?", "general"),  # Icelandic
    ("Vue 3 里 `watch` 和 `watchEffect` 有什么区别？", "general"),  # a version's digit computes nothing
    ("kus me kontrollime isikukoodi?", "location"),  # Estonian
    ("how do we round fares to whole crowns?", "ours"),
    ("how does the `Rubric` class add up the points?", "ours"),
    ("hvordan håndterer vi sommertid i timesdataene?", "ours"),  # Norwegian
    ("kuidas meie teenus allkirja kontrollib?", "ours"),  # Estonian
    ("Skapa `.editorconfig` med:\n```\nroot = true\n```", "creation"),
    # A where-question about the repository under a pasted log that names some file: a place to search.
    ("fuzz run crashed:\n/home/ci/.cache/build/src/btree.c:88: assertion failed\nwhere do we set node->dirty?",
     "location"),
    ("error terus di lib/auth/google.dart:41, kita handle timeout-nya dimana?", "location"),
    # Who puts a value there, under a traceback that names a file: a place in the repository (a gold row of AE).
    ('Traceback:\n  File "apps/orders/tasks.py", line 8, in run\nKeyError: \'slot\'\nwho sets that key?', "location"),
    # A comparison asked as an afterthought to a first question: the first one is the request.
    ("where do we emit `OrderPlaced`? also btw what's the difference between a mutex and a semaphore", "location"),
])
def test_a_phrasing_that_settles_a_choice_is_recognised(query, cue):
    assert question_cue(query).name == cue


@pytest.mark.parametrize("query", [
    "what's the percent difference between 3.2ms and 2.7ms?",  # a computation: it has digits
    "How many petabytes is 3.2 million genomes at 95 GB, where 1 PB is 10^15 bytes?",  # "where" as a clause
    "SELECT id FROM users WHERE deleted_at IS NULL -- count the vowels",
    "run `truncate table analytics.fct_plant_observations` please",  # a table, not a file
    "does argocd `prune: true` in sync.yaml delete stuff outside the app? it doesn't, right?",  # a question
    "in app.py swap `a` for `b`",  # two spans and no removal: a patch the model writes
    "how does `InventoryGrid` stack items?",
    "FAILED tests/pricing/test_quotes.py::test_cross_rate - AssertionError\nlooks like the fake is wrong",  # a test id
    "what's in config.yaml?",  # a file with no folder: often a computation's input ("hash of a.txt")
    "cuánto es 3.5% de 1200 redondeado a 2 decimales?",  # "redondeado" holds "donde": a word, not a where-question
    "compare a naive sum with Kahan summation over 1e6 copies of 0.1",  # the name, not Hindi-English "kahan"
    "the totals differ between prod and staging, beda banget",  # a difference in results: a bug, not a comparison
    "hvor mange rader har vi i 2024?",  # Norwegian "how many", not "where"
    "how does python round 2.5?",  # how the language behaves: a program may show it
    "how long does sorting 1e6 floats take? time it for me",
])
def test_a_passing_resemblance_is_no_cue(query):
    assert question_cue(query) is None


@pytest.mark.parametrize(("query", "ruled_out"), [
    ("where do we round the VAT?", ("sandbox_exec", "file_manager")),  # no file to read
    ("where in vat.py do we round?", ("sandbox_exec",)),  # a file with no folder (with one: the file cue)
    ("kde v internal/ledger/ počítáme zůstatek?", ("sandbox_exec",)),  # a folder to list
    ("where in CHANGELOG.md is the 2.0 entry", ("sandbox_exec",)),
])
def test_a_where_question_that_names_no_file_rules_out_reading_one(query, ruled_out):
    assert question_cue(query).ruled_out["tool_name"] == ruled_out


@pytest.mark.parametrize("query", [
    "add docstrings to lib/geo/haversine.rb",  # a looser verb with no content after the name: an edit
    "make src/lib/imageResize.ts faster",
    "Check Migrations/20240311_AddRiderTable.cs - does it create an index on PolicyId?",  # a question
    'Traceback:\n  File "billing/api/views.py", line 142, in create\nKeyError',  # the verb after the name
])
def test_an_edit_or_a_question_about_a_named_file_is_no_creation(query):
    assert question_cue(query).name == "file"


def _gold_rows():
    for path in sorted(DATA.rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if "output" in row:
                yield path.relative_to(DATA), row["user_query"], row["output"]


def _allowed(cue, gold: dict) -> bool:
    tool_use = gold.get("tool_use") or {}
    chosen = {"status": gold["status"], "tool_name": tool_use.get("tool_name"),
              "operation": tool_use.get("arguments", {}).get("operation")}
    return all(chosen[key] not in values for key, values in cue.ruled_out.items())


def test_no_gold_decision_in_any_dataset_is_one_a_cue_rules_out():
    """Every training, test, curated and held-out row (about 12,800): where a cue fires, the gold decision is one
    it allows, and each cue fires on enough rows for that to mean something."""
    fired, ruled_out = {}, []
    for path, query, gold in _gold_rows():
        cue = question_cue(query)
        if cue is not None:
            fired[cue.name] = fired.get(cue.name, 0) + 1
            if not _allowed(cue, gold):
                ruled_out.append((str(path), cue.name, query[:80]))
    assert ruled_out == []
    assert fired["general"] >= 200 and fired["location"] >= 900 and fired["removal"] >= 60 and fired["file"] >= 1000
    assert fired["creation"] >= 300


def test_the_router_rules_the_cues_choices_out_before_the_model_decides():
    recorder = RecordingEngine()
    router = Router(recorder, max_tokens=64, question_cues=True)
    result = asyncio.run(router.route("what's the difference between a mutex and a semaphore?"))
    assert recorder.requests[-1].branch_prior == {"status": {"running": -math.inf}}
    assert result.question_cue == "general"
    asyncio.run(Router(recorder, max_tokens=64).route("what's the difference between a mutex and a semaphore?"))
    assert recorder.requests[-1].branch_prior == {}


def test_with_a_prior_the_ruled_out_choices_are_added_to_its_weights():
    recorder = RecordingEngine()
    prior = DecisionPrior(SHIPPED_PRIOR, 1.0)
    query = "where do we convert knots to m/s?"
    asyncio.run(Router(recorder, max_tokens=64, question_cues=True, prior=prior).route(query))
    pending = recorder.requests[-1].branch_prior
    assert isinstance(pending, Future)
    weights, alone = pending.result(timeout=30), prior.branch_weights(query)
    assert weights["tool_name"]["sandbox_exec"] == -math.inf
    assert weights["tool_name"]["codebase_search"] == alone["tool_name"]["codebase_search"]
    assert weights["status"] == alone["status"]
    prior.close()


def test_weights_add_key_by_key_and_value_by_value():
    assert add_weights({"status": {"running": -1.0}}, {"status": {"running": -2.0, "complete": -3.0},
                                                       "tool_name": {"ask_human": -math.inf}}) == {
        "status": {"running": -3.0, "complete": -3.0}, "tool_name": {"ask_human": -math.inf}}


def test_the_engine_ignores_a_prior_that_rules_out_everything_the_grammar_allows():
    """A chat request whose tool_choice requires a call meets the general cue: the call stays possible."""
    watch = _BranchWatch(("status",), {"status": {"running": -math.inf}}, lambda ids: b"running")
    watch.forced(b'{"status":"')
    logits = np.array([1.5, -np.inf])
    watch.steer(logits)
    assert logits.tolist() == [1.5, -np.inf]


def test_the_engine_takes_a_ruled_out_value_out_of_the_choice():
    pieces = {0: b"running", 1: b"complete"}
    watch = _BranchWatch(("status",), {"status": {"running": -math.inf}}, lambda ids: pieces[ids[0]])
    watch.forced(b'{"status":"')
    logits = np.array([3.0, 1.0])
    watch.steer(logits)
    assert logits.tolist() == [-np.inf, 1.0]


def test_the_served_router_reads_the_cues_by_default():
    assert Settings().question_cues


@pytest.mark.parametrize("query", [
    "remove `a` `b` `c` `d` " + " ".join(f"a{i}.py" for i in range(1000)),  # four spans, a thousand files
    "remove " + " ".join(f"`s{i}` a{i}.py" for i in range(500)),
    "difference " * 700 + "between",
    " ".join(f"add d{i}/f{i}.py" for i in range(700)),  # seven hundred files, each after a creating verb
])
def test_a_hostile_request_is_read_in_milliseconds(query):
    """Measured at 14 ms at worst for 8,000 characters on a 2-core VM (each file once, the spans once)."""
    import time

    started = time.perf_counter()
    question_cue(query[:8000])
    assert time.perf_counter() - started < 0.5
