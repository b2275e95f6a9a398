"""The unseen-context rule (contract/unseen.py) and its routing guard: a search, program or answer on a request
that points at what the router cannot see becomes ask_human; everything else passes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from contract.unseen import unseen_reference
from service.routing import Router
from tests.hardening_fakes import FakeEngine

DATA = Path(__file__).resolve().parents[1] / "data"
THOUGHT = "The request names what to look for, so search the code for it"
SEARCH = {"status": "running", "thought": THOUGHT,
          "tool_use": {"tool_name": "codebase_search", "arguments": {"query": "rate limiter", "mode": "semantic"}}}
SANDBOX = {"status": "running", "thought": THOUGHT,
           "tool_use": {"tool_name": "sandbox_exec", "arguments": {"code": "print(2 + 2)", "timeout": 5}}}
ANSWER = {"status": "complete", "final_answer": "Use a token bucket."}
READ = {"status": "running", "thought": THOUGHT,
        "tool_use": {"tool_name": "file_manager", "arguments": {"operation": "read", "path": "src/limiter.py"}}}


@pytest.mark.parametrize("query", [
    "do the thing we talked about for the sidebar",
    "apply the same patch as last time to the telescope scheduler",
    "implement the retry policy Oksana described in yesterday's standup",
    "per my previous comment, rework the hopper firmware loop",
    "please make the changes the auditors asked for in the grain-silo service",
    "update the legend like in the screenshot",
    "you know which module, just make it pure",
    "whatever Tomasz did before, do it again for the ferry feed",
    "as per the memo, bump the tide-gauge thresholds",
    "the migration from earlier failed again, sort it",
    "faz aquele ajuste no parser de boias",
    "aplica o que a Beatriz mandou no canal",
    "haz lo que hablamos del cache de partituras",
    "mach das bitte wie besprochen im Dosierdienst",
    "bring in the retry approach from Priya's branch",
    "set the thresholds as in the proposal",
    "applique la correction dont on a parlé jeudi au module de quais",
    "rifallo come l'ultima volta per il servizio dei turni",
    "zrób to jak ostatnio w module rozkładów",
    "jo config Ankit ne bheje the wahi laga do",
    # Further languages, in their own script or in Latin letters as people type them.
    "udělej ten export faktur jako minule",  # Czech
    "gör om rapportvyn som vi pratade om",  # Swedish
    "pataisyk filtrą kaip aptarėm",  # Lithuanian
    "fă migrarea ca data trecută",  # Romanian
    "сделай кэш как в прошлый раз",  # Russian
    "φτιάξε το api όπως είπαμε",  # Greek
    "תסדר את הטופס כמו שדיברנו",  # Hebrew
    "mesle hamoon ghabli, formo dorost kon",  # Persian in Latin letters
    "kalke meeting e je plan hoyechilo oita kore dao",  # Bengali in Latin letters
    "bikin halaman promo kayak kemarin",  # Indonesian
    "fanya login kama tulivyoongea",  # Swahili
    "raporu konuştuğumuz gibi düzelt",  # Turkish
    "前回と同じ感じでヘッダーを直して",  # Japanese
    "지난번처럼 배너 바꿔줘",  # Korean
    "按我们讨论的改一下登录页",  # Chinese
    "neenga nethu sonna maadhiri login screen maathunga",  # Tamil in Latin letters
    "gjør det samme som i forrige prosjekt",  # Norwegian
    "tee see nagu eelmine kord",  # Estonian
    "gerðu þetta eins og við ræddum",  # Icelandic
    "zrób to samo co w tamtym PR",  # Polish
    "doe het zoals we met Jens besproken hebben",  # Dutch
    "dünkü toplantıda konuştuğumuz fix'i uygula",  # Turkish
    "按上次说的那个方案改一下",  # Chinese, the phrase inside a sentence (no word boundary before it)
])
def test_a_request_that_points_at_unseen_context_is_recognised(query):
    assert unseen_reference(query)


@pytest.mark.parametrize("query", [
    "on call rn, where do we retry failed kiln readings?",
    'from the retro: "find where we set ORCHARD_API_URL"',
    "I'm reviewing last week's incident. How does SluiceGate release its lock on timeout?",
    'Exception in thread "main" java.lang.IllegalStateException at Choir.seat(Choir.java:42)',
    "search the migrations folder for anything that adds an index on the email column",
    "trace the flow from the email link to the database write for password resets",
    "In the meeting they said recalcularTarifa rounds wrong; where is it defined?",
    "kde se počítá sleva na jízdenky?",  # a Czech where-question: nothing unseen
    "co je rozdíl mezi list a tuple?",
    "same result as `sorted()` but stable for ties: is that guaranteed?",
    "as in the example below, parse `2024-03-01T10:00` into a datetime",
    "which PR added the fix in the retry branch?",
])
def test_a_passing_mention_is_not_a_reference(query):
    assert unseen_reference(query) is None


def _gold_rows():
    for path in sorted(DATA.rglob("*.jsonl")):
        for line in path.open():
            row = json.loads(line)
            yield path.relative_to(DATA), row["user_query"], row["output"]


KNOWN_MISFIRES = {
    ("heldout/realistic-p.jsonl", "what they sent"):
        "a pasted log line and 'where does that key even get set?' come after 'the path got cut off in what "
        "they sent me': the request carries what it points at. Found when P was scored (the guard asked); the "
        "pattern was not changed after P was spent, since 'what/the spec the client sent' asks elsewhere.",
}
"""Gold searches, programs or answers the guard is known to turn into a question, with why each is kept."""


@pytest.mark.parametrize("query", [
    "alert mail this morning:\n\n    QUEUE STALL: shard 7 lag 900s\n\nwhere do we raise that",
    "from yesterday's call:\n- rename the flag to ENABLE_V2\nwhere is the flag read?",
])
def test_a_reference_whose_context_is_pasted_after_it_points_at_nothing_unseen(query):
    assert unseen_reference(query) is None
    assert unseen_reference(query.replace(":\n", " ", 1)) is not None  # without the paste it is unseen


def test_no_gold_decision_in_any_dataset_is_one_the_guard_would_replace():
    """Every training, test, curated and held-out row: the guard never turns a right search, program or answer
    into a question, but for the known misfires above."""
    replaced = {(str(path), unseen_reference(query)) for path, query, gold in _gold_rows()
                if (gold["status"] == "complete" or gold["tool_use"]["tool_name"] in ("codebase_search", "sandbox_exec"))
                and unseen_reference(query)}
    assert replaced == set(KNOWN_MISFIRES)


def route(decision: dict, query: str, *, context: str | None = None, reasoning: bool = True, **guards):
    router = Router(FakeEngine(delay=0, text=json.dumps(decision)), max_tokens=64,
                    **({"unseen_context_guard": True} | guards))
    return asyncio.run(router.route(query, context=context, reasoning=reasoning))


@pytest.mark.parametrize("decision", [SEARCH, SANDBOX, ANSWER])
def test_a_guess_at_unseen_context_becomes_a_question(decision):
    result = route(decision, "apply the fix Marta suggested in Thursday's call to the rate limiter")
    assert result.unseen_context and result.decision.tool_use.tool_name == "ask_human"
    args = result.decision.tool_use.arguments
    assert "Marta suggested" in args.question and "proposed" in args.context


@pytest.mark.parametrize(("decision", "kwargs"), [
    (READ, {}),  # file_manager only reaches a path the user wrote
    (SEARCH, {"context": "Marta suggested a token bucket with 20 tokens"}),  # what it points at may be here
    (SEARCH, {"unseen_context_guard": False}),
])
def test_a_named_file_a_given_context_or_the_guard_off_leaves_the_call(decision, kwargs):
    result = route(decision, "apply the fix Marta suggested in Thursday's call to src/limiter.py", **kwargs)
    assert not result.unseen_context
    assert result.decision.tool_use.tool_name == decision["tool_use"]["tool_name"]


def test_an_ordinary_request_passes():
    assert not route(SEARCH, "where is the rate limiter configured?").unseen_context


def test_a_destructive_request_is_asked_about_as_one():
    result = route(SANDBOX, "wipe the cache like we discussed", destructive_guard=True)
    assert result.destructive and not result.unseen_context


def test_with_reasoning_off_the_question_carries_no_thought():
    thoughtless = {key: value for key, value in SEARCH.items() if key != "thought"}
    result = route(thoughtless, "do the thing we talked about", reasoning=False)
    assert result.unseen_context and result.decision.thought is None


@pytest.mark.parametrize("query", [
    "apply the " + "x" * 90 + " from earlier",  # a quoted word longer than a thought's words may be
    "do the thing we\n\n\t talked about",  # a phrase across lines
    "tear\n" + "y" * 90 + " down",  # the destructive guard's phrase, too
])
def test_a_hostile_phrase_still_gives_a_valid_decision(query):
    result = route(SANDBOX, query, destructive_guard=True)
    assert result.decision.tool_use.tool_name == "ask_human"
    assert "\n" not in result.decision.thought and max(map(len, result.decision.thought.split())) <= 60


def test_a_stream_holds_an_answer_that_the_guard_could_replace():
    router = Router(FakeEngine(delay=0, text=json.dumps(ANSWER)), max_tokens=64, unseen_context_guard=True)
    assert router.may_override("do the thing we talked about", answers=True)
    assert not router.may_override("what is a token bucket?", answers=True)


def test_the_served_router_applies_the_guard_by_default():
    from service.settings import Settings

    assert Settings().unseen_context_guard

