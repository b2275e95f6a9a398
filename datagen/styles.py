"""Personas and query styles: how the same request is written by different people on different days.

A style rewrites the request's free text; slot values (symbols, paths, strings to patch) are protected
by markers while the style runs, so a typo never lands inside a path or a string the model must copy.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

MARK = "\x00"  # protected slot i is written \x00i\x00 while styles run


@dataclass(frozen=True)
class Persona:
    name: str
    prefixes: tuple[str, ...]
    """Optional openings this person uses ("" = none)."""


PERSONAS: tuple[Persona, ...] = (
    Persona("backend engineer", ("", "", "backend side: ")),
    Persona("junior developer", ("I'm new to this codebase - ", "sorry if this is obvious, ", "still learning here, ")),
    Persona("on-call SRE", ("on call rn, ", "paged at 3am. ", "incident in progress: ")),
    Persona("data scientist", ("not a software engineer, but ", "from the DS team: ", "")),
    Persona("product manager", ("PM here, ", "non-dev question-ish: ", "")),
    Persona("QA engineer", ("QA here - ", "while testing the release candidate: ", "")),
    Persona("security engineer", ("security review: ", "appsec here. ", "")),
    Persona("staff engineer", ("", "quick one: ", "for the design doc: ")),
    Persona("intern", ("intern here :) ", "my mentor is out today so ", "")),
    Persona("open-source maintainer", ("a contributor reported this: ", "maintainer hat on: ", "")),
    Persona("contractor", ("I'm a contractor on this project, ", "first week on the contract - ", "")),
    Persona("computer science student", ("for my class project, ", "student here, ", "")),
    Persona("tech lead", ("before I approve this PR: ", "", "for the sprint planning: ")),
    Persona("mobile developer", ("mobile dev here, ", "", "from the app team: ")),
    Persona("frontend developer", ("frontend person here, ", "", "FE here: ")),
    Persona("database administrator", ("DBA here. ", "", "")),
    Persona("ML engineer", ("", "ML infra question: ", "training run question - ")),
    Persona("developer advocate", ("writing a blog post and ", "for a demo: ", "")),
    Persona("startup CTO", ("", "founder here, wearing the CTO hat: ", "tiny team, so ")),
    Persona("freelancer", ("client project: ", "", "freelance gig, ")),
    Persona("non-native English speaker", ("hello, ", "please, ", "")),
    Persona("bootcamp graduate", ("just finished a bootcamp, ", "", "")),
    Persona("embedded engineer", ("firmware side: ", "", "")),
    Persona("game developer", ("gamedev here, ", "", "")),
    Persona("researcher", ("for the paper's experiments, ", "research code, so bear with me: ", "")),
    Persona("release manager", ("release is tomorrow - ", "cutting the release: ", "")),
    Persona("support engineer", ("customer ticket: ", "support escalation - ", "")),
    Persona("technical writer", ("documenting this: ", "for the docs: ", "")),
    Persona("platform engineer", ("platform team here, ", "", "")),
    Persona("hobbyist", ("weekend project, ", "side project: ", "")),
    Persona("code reviewer", ("reviewing a PR and ", "in code review: ", "")),
    Persona("engineering manager", ("EM here, ", "", "haven't coded in a while, ")),
)


def _words_apply(text: str, fn: Callable[[str], str]) -> str:
    """Apply fn to every unprotected word."""
    return " ".join(w if MARK in w else fn(w) for w in text.split(" "))


def _typo_word(rng: random.Random, word: str) -> str:
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    if len(letters) < 4 or rng.random() > 0.35:
        return word
    i = rng.choice(letters[1:-1])
    op = rng.randrange(3)
    if op == 0 and i + 1 < len(word) and word[i + 1].isalpha():
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == 1:
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


_FILLER = re.compile(r"\b(please|could you|can you|would you|the|a|an|i need to|i want to|just|me)\b ?", re.I)


def _strip_end(text: str) -> str:
    return text.rstrip(" .?!")


def _lc(text: str) -> str:
    return _words_apply(text, str.lower)


_SNIPPETS = (
    "\n```\nresult = client.fetch(timeout=30)\n```", "\n\nfor context I'm staring at `if not user or user.is_anonymous:`",
    " (the line is `cache.set(key, value, ttl=ttl)`)", "\n```\nTypeError: 'NoneType' object is not subscriptable\n```",
    "\n```js\nconst data = await res.json();\n```", " - it's around `for item in items:` somewhere",
    "\n```\nexit status 1\n```", " (`err != nil` branch keeps firing)",
)

STYLES: dict[str, Callable[[random.Random, str], str]] = {
    "plain": lambda r, t: t,
    "terse": lambda r, t: _lc(_strip_end(_FILLER.sub("", t))).strip() or t,
    "fragmented": lambda r, t: re.sub(r",? (and|so|because|but) ", lambda m: ". " + m.group(1) + " ", t, count=1)
    .replace(", ", "... ", 1),
    "narrative": lambda r, t: r.choice((
        "So I was poking around after standup and got curious. ",
        "Context: we shipped a change last week and things have been weird since. ",
        "Long story short, a customer complained this morning. ",
        "I've spent the last hour going in circles on this. ",
        "We're refactoring this area next sprint and I want to get ahead of it. ",
        "Background: I inherited this service from someone who left. ")) + t,
    "urgent": lambda r, t: r.choice(("URGENT: ", "asap - ", "prod is on fire. ", "need this in 10 min: ",
                                      "blocking the release!! ")) + t,
    "polite": lambda r, t: r.choice(("Hi! Could you help me with something? ", "Hello, ", "Would you mind: ",
                                     "If you have a moment, ")) + t + r.choice((" Thanks a lot!", " Thank you!",
                                                                                 " Much appreciated.", "")),
    "sarcastic": lambda r, t: r.choice(("Because apparently nobody documented anything, ",
                                        "Love this codebase. Anyway, ", "Oh great, another mystery. ",
                                        "Fantastic, the docs lie again. ")) + t,
    "typos": lambda r, t: _words_apply(t, lambda w: _typo_word(r, w)),
    "follow_up": lambda r, t: r.choice(("ok that worked. next: ", "also, ", "one more thing - ",
                                        "cool, thanks. now ", "follow-up to the last one: ", "and ")) + t,
    "lowercase_no_punct": lambda r, t: _lc(re.sub(r"[.?!,;]+(\s|$)", r"\1", t)),
    "slack": lambda r, t: r.choice(("hey, quick q: ", "yo ", "@router ", "hey hey - ", "q: ")) + t,
    "ticket": lambda r, t: f"[{r.choice(('PROJ', 'OPS', 'BUG', 'INFRA', 'WEB', 'DATA'))}-{r.randint(100, 9999)}] " + t,
    "non_native": lambda r, t: r.choice(("Please can you to help: ", "I am wanting that you ", "Kindly ",
                                         "Is possible to ")) + t[0].lower() + t[1:],
    "verbose": lambda r, t: t + r.choice((
        " I'd like to understand this properly before I touch anything else.",
        " No rush, but it's on my list for today.",
        " I tried to work it out myself and got confused.",
        " It's part of a bigger cleanup, so accuracy matters more than speed.")),
    "hedged": lambda r, t: r.choice(("Not sure this is the right approach, but ", "Maybe a dumb question: ",
                                     "I might be wrong here, but ", "Possibly overthinking this, ")) + t[0].lower() + t[1:],
    "emoji": lambda r, t: t + " " + r.choice(("🙏", "😅", "🔥", "👀", "🤔", ":)", "🚀")),
    "dictated": lambda r, t: r.choice(("um so ", "okay so like ", "so uh ", "right, so ")) + _lc(_strip_end(t)),
    "bullet": lambda r, t: "- " + _strip_end(t) + "\n- " + r.choice(
        ("context: working on a bugfix", "priority: medium", "for: this sprint", "note: no tests yet")),
    "exasperated": lambda r, t: r.choice(("For the third time today: ", "Ugh. ", "I give up guessing. ",
                                          "Seriously, ")) + t,
    "greeting_signoff": lambda r, t: r.choice(("Morning! ", "hi there, ", "Hey, ")) + t + r.choice(
        (" thx", " cheers", " ty!", " - thanks in advance")),
    "shouting": lambda r, t: _words_apply(t, lambda w: w.upper() if r.random() < 0.15 and len(w) > 3 else w),
    "pairing": lambda r, t: r.choice(("we're pairing on this: ", "my pair and I are stuck - ",
                                      "mob session question: ")) + t,
    "deadline": lambda r, t: r.choice(("demo in 20 minutes, ", "before the standup: ", "EOD deadline - ",
                                       "quick before my meeting: ")) + t,
    "quoted_request": lambda r, t: r.choice(("my lead asked: \"", "ticket says: \"", "from the retro: \"",
                                             "reviewer comment: \"")) + _strip_end(t) + "\"",
    "question_mark_spam": lambda r, t: _strip_end(t) + r.choice(("??", "???", "?!")),
    "no_caps_run_on": lambda r, t: _lc(t).replace(". ", " and ").replace("? ", " also "),
    "markdown": lambda r, t: "**Task:** " + t,
    "code_mixed": lambda r, t: t + r.choice(_SNIPPETS),
    "multi_part": lambda r, t: r.choice(("two things. first: ", "1) ", "step one: ")) + _strip_end(t) + r.choice((
        ". second, we'll update the changelog after", ". 2) then I'll open the PR myself", " - the rest can wait")),
}

# How often each style is used; plain writing stays the most common.
STYLE_WEIGHTS = {name: (6 if name == "plain" else 3 if name in ("terse", "polite", "typos", "lowercase_no_punct",
                                                                     "slack", "follow_up") else 1.4)
                 for name in STYLES}


def mark(text: str, n_slots: int) -> str:
    """Replace the {i} slot placeholders with markers that styles leave alone."""
    for i in range(n_slots):
        text = text.replace("{" + str(i) + "}", f"{MARK}{i}{MARK}")
    return text


def unmark(marked: str, protected: list[str]) -> str | None:
    """Put the slot values back; None if a style damaged a marker."""
    for i, value in enumerate(protected):
        marked = marked.replace(f"{MARK}{i}{MARK}", value)
    return None if MARK in marked else marked


def apply_style(rng: random.Random, style: str, marked: str) -> str:
    """Rewrite marked text in a style (slot markers pass through untouched)."""
    return STYLES[style](rng, marked)


def pick_style(rng: random.Random) -> str:
    names = list(STYLE_WEIGHTS)
    return rng.choices(names, weights=[STYLE_WEIGHTS[n] for n in names])[0]


def with_persona(rng: random.Random, persona: Persona, text: str) -> str:
    """Prefix the persona's opening ~35% of the time."""
    prefix = rng.choice(persona.prefixes)
    if not prefix or rng.random() > 0.35 or not text[:1].isalpha():
        return text
    return prefix + (text[0].lower() + text[1:] if text[:1].isupper() and not text[:2].isupper() else text)
