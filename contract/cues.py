"""Question cues: phrasings that settle one of the decision's choices before the model makes it.

The router's guards correct a decision after it is written; a cue acts before, at the branching points
(status, tool_name, operation), by ruling some values out there (`service.routing.Router.branch_prior`).
The model still writes everything else: the answer, the query, the patch. Seven cues, each read off the
request alone and each checked against every gold row of the data (about 14,800 requests), where it
fires only on rows whose gold decision it allows:

- **general**: a comparison ("what's the difference between X and Y", in some forty languages) with no
  digit in the request, or a question marked as general ("in general", "general C++ q:", "not about our
  code"). A direct answer. The 135M model searches for the names in such questions (`DontDestroyOnLoad`,
  `orphanRemoval`): public API names look like the repository's own. Gold rows: about 310, all answers.
- **location**: a question about where something is ("where do we convert knots to m/s?", "dónde
  validamos", "どこで計算してる", "who sets X-Request-Id?"). Anything but a program: the model sometimes
  writes one that computes the thing named. Gold rows: about 1,390 (searches, answers, asks, reads), none a
  program ("where exactly is the mistake?" in a pasted JSON file, a program, is not matched: the pattern
  leaves "where exactly" out). A where-question that names no file or folder rules out file_manager too:
  there is nothing to read, and the model that reads a file invents its path (the four gold reads under a
  where-question each name their file). A where-question is also never a destructive command
  (`asks_where`: "kill switch for new pricing - where").
- **removal**: a request to take the one thing it quotes in backticks out of a file it names ("remove
  the `print(x)` line from app.py", "xóa dòng `console.log(...)` trong a.tsx"), which does not ask for
  information. A file_manager patch (or a question back); the copy repair then makes it that span into nothing
  (`contract.copying.spelled_out_removal`), and the destructive guard still judges it. The model
  sometimes writes another call, and the destructive guard then asks about a spelled-out edit. Gold rows:
  77, all such patches.
- **swap**: a request to change one span it quotes in backticks into another in a file it names ("in
  config/mpesa.php badilisha `A` iwe `B`", "muuda `A` -> `B`"): two spans with only a connector between
  them, read by its length, so in any language (`contract.copying.spelled_out_swap`). A patch (or a question
  back), whose strings the copy repair then makes those two spans. The model sometimes reads the file
  instead. Gold rows: about 370, all patches of exactly those spans.
- **file**: a path with folders whose last part is a file name ("check internal/ledger/posting.go", a
  traceback's `File "app/jobs/sync.py"`), other than a test id in pasted test output; with a where-question
  only when it asks where in that file (a where-question under a pasted log asks for a place in the
  repository: two gold searches of Y and Z). Anything but a search: the model sometimes searches for the
  path it was given. Gold rows: about 1,530, none a search
  (1,468 file_manager calls, 51 questions back, 8 programs, 2 answers).
- **creation**: a request to create a file it names ("create spec/x.xml with ...", "utwórz plik ...",
  "`robots.txt` bana do"; creating verbs in some twenty languages, `contract.verbs`), not a question.
  Neither a search, a program, a read nor a list: the model sometimes reads the file it was asked to write,
  or runs the content it was given ("lag en fil queries/top.sql med:" and the SQL). Gold rows:
  about 390, writes and patches but for 5 questions back.

- **ours**: a question about how our code does something ("how do we round fares?", "hvordan håndterer vi
  sommertid", "kuidas meie teenus ... kontrollib", "how does the `Rubric` class add up the points?"): a "how"
  with "we", "our" or a named class right after it, in some twenty languages. Anything but a program: the
  model sometimes writes one that computes the thing asked about. Gold rows: about 240 (searches but for
  one answer and one question back).

A comparison asked as an afterthought to a first question ("where is X raised? also unrelated but ...")
makes no general cue: the first question is the request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from contract.copying import spelled_out_removal, spelled_out_swap
from contract.safety import asks_for_information, written_paths
from contract.verbs import ADD_BEFORE, CREATE_AFTER, CREATE_BEFORE, REMOVAL


@dataclass(frozen=True)
class Cue:
    name: str
    ruled_out: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """For a branching key, the values the model may not choose there."""


GENERAL = Cue("general", {"status": ("running",)})
LOCATION = Cue("location", {"tool_name": ("sandbox_exec",)})
LOCATION_NO_FILE = Cue("location", {"tool_name": ("sandbox_exec", "file_manager")})
"""A where-question that names no file or folder: nothing to read, and the model that reads a file invents its
path (which the path guard then asks about)."""
NAMED_FILE = Cue("file", {"tool_name": ("codebase_search",)})
NEW_FILE = Cue("creation", {"tool_name": ("codebase_search", "sandbox_exec"), "operation": ("read", "list")})
_A_PATCH = {"status": ("complete",), "tool_name": ("codebase_search", "sandbox_exec"),
            "operation": ("read", "list", "write")}
"""Everything but a patch (or a question back)."""
OUR_CODE = Cue("ours", {"tool_name": ("sandbox_exec",)})
FILE_REMOVAL = Cue("removal", _A_PATCH)
FILE_SWAP = Cue("swap", _A_PATCH)

_COMPARISON = re.compile(
    r"difference(?:\s+\w+)?\s+between|diff between|diferen[cç]ia(?:\s+\w+)?\s+entre|différence(?:\s+\w+)?\s+entre|"
    r"r[óo]żnica(?:\s+\w+)?\s+mi[eę]dzy|khác nhau|fark[ıi]|unterschied|differenza(?:\s+\w+)?\s+tra|verschil tussen|"
    r"区别|違い|차이|"
    # Further languages, each its word for "difference" or "differ" as people ask it: Portuguese, Catalan,
    # Romanian, Swedish, Norwegian and Danish, Czech and Slovak, Polish's verb, Serbian/Croatian/Slovenian,
    # Hungarian, Lithuanian, Finnish, Russian and Ukrainian, Greek, Hebrew, Arabic and Persian, Hindi/Urdu and
    # Bengali (written in Latin letters and in their own), Indonesian and Malay, Tagalog, Swahili, Thai, Chinese,
    # Icelandic, Estonian.
    r"diferen[cç]a(?:\s+\w+)?\s+entre|diferència|diferen[țţt]a\s+(?:dintre|între|intre)|\bdeosebire|"
    r"skillnad(?:en)?\s+(?:mellan|på)|forskjell(?:en)?\s+(?:mellom|på)|forskel(?:len)?\s+(?:mellem|på)|"
    r"rozd[ií]e?l(?:\s+\w+)?\s+(?:mezi|medzi)|czym\s+(?:si[eę]\s+)?r[óo]żni|\brazlik[aue]\b|"
    r"különbség|skirtum|\bvälillä\b|разниц|чем\s+отлича|різниц|чим\s+відрізня|διαφορά|הבדל|الفرق|تفاوت|"
    r"\bfar(?:q|k|gh|ak)\b|\bparthokk?o|पार्थक्य|अंतर|फ़र्क|फर्क|পার্থক্য|"
    r"perbedaan|perbezaan|\bbedanya\b|\bapa\s+beda\b|pinagkaiba|pagkakaiba|\btofauti\b|ต่างกัน|แตกต่าง|差别|不同之处|"
    # Egyptian Arabic and Persian in Latin letters, Lithuanian's verb, Icelandic, Estonian.
    r"\bfar2\b|\bfarghe?\b|skiriasi|\bmunur(?:inn)?\s+á\b|\bmis\s+vahe\b|erinevus",
    re.IGNORECASE,
)
_MARKED_GENERAL = re.compile(
    r"in general\b|general (?:c\+\+ |python |js |java |rust |go )?(?:q\b|question)|generic question|"
    r"not about our|not (?:specific )?to our|nothing to do with our",
    re.IGNORECASE,
)
_LOCATION = re.compile(
    r"\bwhere(?:'s| is| are| do| does| did| was| were| can| should| would| in)\b|\bd[oó]nde\b|\bonde\b|\bdove\b|"
    r"\boù\b|\bwo (?:wird|werden|ist|sind|steht|liegt|passiert|machen|berechnen)\b|\bwaar\b|\bgdzie|\bnerede|"
    r"\bnerde|chỗ nào|ở đâu|どこ|哪里|哪儿|在哪|어디|\bkaha\b|где|\bdi\s?mana\b|\bkur\b|"
    # Who or what puts a value there: a place in the repository too ("who sets X?", Lithuanian "kas įdeda").
    r"\b(?:who|what|which\s+\w+)\s+(?:sets|puts|adds|creates|writes|fills|populates|inserts)\b|"
    r"\bkas\s+(?:įdeda|nustato|sukuria|prideda|įrašo)\b|"
    # Further languages' "where": Hindi/Urdu, Bengali and Persian in Latin letters, Czech and Slovak, Serbian and
    # Croatian, Romanian, Hungarian, Swedish, Norwegian and Danish, Finnish, Swahili, Tagalog, Thai, Hebrew,
    # Greek, Arabic, Italian's "dov'è", Nigerian Pidgin's "where X dey"; and a request that ends in "where".
    r"\b(?-i:kah[aā]n)\b|\bkothay\b|\bkoja(?:st)?\b|\bkde\b|\bg(?:d(?:j)?e)\b|\bunde\b|\bhol\s+(?:van|vannak|történik)\b|"
    r"\bvar\s+(?:finns|ligger|sätts|skapas|görs|i\s+koden)\b|"
    r"\bmissä\b|\bwapi\b|\bkung\s+saan\b|\bsaan\s+(?:ba|yung|ang|nakalagay|dine)|ตรงไหน|ที่ไหน|איפה|\bπού\b|أين|"
    r"\bdov'|\bwhere\s+\S+(?:\s+\S+)?\s+dey\b|\bwhere\W*$|"
    # Estonian, Icelandic, Tamil in Latin letters, and Norwegian/Danish "hvor" (with its commonest verbs, or
    # any but "hvor mange", how many).
    r"\bkus(?:t)?\b|\bhvar\b|\bhvaðan\b|\benga\b|"
    r"\bhvor(?:\s+(?:er|ligger|bliver|blir|sættes|settes)\b|\b(?!\s+(?:mange|mye|meget|lang|langt|lenge|længe|stor|ofte|gammel)))",
    re.IGNORECASE,
)
_HOW = re.compile(
    r"\bhow\s+(?:do|does|did|is|are|should)\b|"
    # Norwegian and Danish, Swedish, Polish and Czech, Estonian, Lithuanian, Spanish and Portuguese, German,
    # Dutch, Turkish, Indonesian, Russian, Ukrainian, Tagalog, Hindi and Persian in Latin letters; then Greek,
    # Vietnamese, Hebrew, Korean, Japanese, Chinese.
    r"\b(?:hvordan|hur|jak|kuidas|kaip|c[oó]mo|wie|hoe|nasıl|bagaimana|gimana|как|як|paano|kaise|chetor)\b|"
    r"πώς|thế nào|איך|어떻게|どう|怎么|如何",
    re.IGNORECASE,
)
_OURS = re.compile(
    r"\b(?:we|our|us|vi|vår|våre|vårt|vores|u\s+nás|nám|nasz\w*|meie|mes|mūsų|nós|nosso|nossa|a\s+gente|"
    r"nosotros|nuestr[oa]s?|wir|unser\w*|wij|ons|onze|biz|bizim|мы|наш\w*|ми|kita|kami|natin|namin|hum|hamara|"
    r"hamare|humare|אנחנו|שלנו)\b|"
    r"`[A-Za-z_][\w.:]*`\s+(?:class|service|module|function|method|component|hook)\b",
    re.IGNORECASE,
)
"""Who the code belongs to, said right after a "how": "we", "our" in the same languages, or a named class."""
_OURS_GAP = 40
"""At most this many characters between a "how" and the word that makes the question one about our code."""
_WHERE_IN_GAP = 12
"""At most this many characters (a quote, a backtick, " in ") between a where-question's word and the path."""
_NEAR_VERB = 40
"""At most this many characters between a creating verb and the name of the file it creates, on one line."""
_CONTENT_FOLLOWS = re.compile(
    r"[`'\"]?\s*(?::|[ \t]*\n|\s+(?:with|containing|med|mit|con|com|avec|z|s|dengan|với|με|feeh|na\s+may)\b)",
    re.IGNORECASE,
)
"""What follows a file's name when its content comes next: a colon, the end of the line, "with" (in a dozen
languages)."""
_DIGIT = re.compile(r"\d")
_VERSION = re.compile(r"\b[A-Z][A-Za-z.+#]*\s?v?\d+(?:\.\d+)*(?![\w.%])")
"""A product and its version ("Vue 3", "Angular 17", "PHP 8.3", "Python 3.12"): digits that compute nothing."""
_AFTERTHOUGHT = re.compile(r"\?\s*(?:and\s+)?(?:also|btw|by the way|plus|unrelated|another thing)\b", re.IGNORECASE)
"""A second question after a first ("where is X raised? also unrelated but ..."): the first one is the request."""
_BACKTICKED = re.compile(r"`([^`\n]+)`")
_FILE_NAME = re.compile(r"(?:^|/)(?:\.[\w.-]+|[\w.-]+\.[A-Za-z0-9]{1,6})$")
"""A path whose last part is a file name: a dotfile, or a name with a short extension (`app.py`, not the
table `analytics.fct_orders`)."""


def question_cue(query: str) -> Cue | None:
    """The cue this request carries, if any: a removal first, then a swap, a new file, a named file (all four
    name their file), then general, location, and last a question about how our code works."""
    paths = written_paths(query)  # read once: the file cues look for the file the request names
    files = {path for path in paths if _FILE_NAME.search(path)}
    if _removes_quoted_text(query, files):
        return FILE_REMOVAL
    if _swaps_quoted_text(query, files):
        return FILE_SWAP
    if _creates_a_file(query, files):
        return NEW_FILE
    if _names_a_file_in_a_folder(query, files):
        return NAMED_FILE
    if _asks_in_general(query):
        return GENERAL
    if asks_where(query):
        named = files or any("/" in path for path in paths)
        return LOCATION if named else LOCATION_NO_FILE
    if any(_OURS.search(query, how.end(), how.end() + _OURS_GAP) for how in _HOW.finditer(query)):
        return OUR_CODE
    return None


def asks_where(query: str) -> bool:
    """Whether the request asks where something is ("kill switch for new pricing - where", "abandoned cart gula
    kothay purge hoy?"): a question for a place, even when it names something that destroys."""
    return _LOCATION.search(query) is not None


def _names_a_file_in_a_folder(query: str, files: set[str]) -> bool:
    """A path with folders whose last part is a file name (`src/app.py`), other than a test's id in pasted
    test-runner output (`tests/test_quotes.py::test_rate`). A where-question counts only when it asks where
    in that file ("where in `app/x.py` do we ..."): "where do we return X?" under a pasted log asks for a
    place in the repository, not for the file one of the log's lines names."""
    paths = [path for path in files if "/" in path and f"{path}::" not in query]
    if not paths:
        return False
    wheres = [match.end() for match in _LOCATION.finditer(query)]
    return not wheres or any(0 <= query.find(path, end) - end <= _WHERE_IN_GAP for path in paths for end in wheres)


def _removes_quoted_text(query: str, files: set[str]) -> bool:
    """A removal verb, a file the request names, and exactly one other span in backticks to take out of
    it; not a question for information ("it doesn't delete `x`, right?")."""
    if not REMOVAL.search(query) or len(set(_BACKTICKED.findall(query))) > 4 or asks_for_information(query):
        return False  # more than four spans in backticks (the file, the thing, a few words) is no one thing
    return any(spelled_out_removal(path, query) is not None for path in files)


def _swaps_quoted_text(query: str, files: set[str]) -> bool:
    """A file the request names and two spans in backticks, old and new, with only a connector between them
    (`contract.copying.spelled_out_swap`); not a question for information."""
    return bool(files) and not asks_for_information(query) and any(spelled_out_swap(path, query) for path in files)


def _creates_a_file(query: str, files: set[str]) -> bool:
    """A request to create a file it names, not a question for information: a creating verb up to _NEAR_VERB
    characters before the file's name on its line ("create src/x.py", "vytvoř prázdný soubor x/y.py"), or
    after it in the languages that put it there ("`robots.txt` bana do"), or a looser verb ("add", "make")
    before it when its content follows ("make reqs.txt with pandas==2.2"). Not "the traceback's `File
    "api/views.py", line 142, in create`": the verb must come on the right side of the name."""
    if asks_for_information(query):
        return False
    before = [match.end() for match in CREATE_BEFORE.finditer(query)]
    after = [match.start() for match in CREATE_AFTER.finditer(query)]
    loose = [match.end() for match in ADD_BEFORE.finditer(query)]
    if not (before or after or loose):
        return False
    for path in files:
        for match in re.finditer(re.escape(path), query):
            start, end = match.span()
            line_start = query.rfind("\n", 0, start) + 1
            newline = query.find("\n", end)
            line_end = len(query) if newline < 0 else newline
            verbs_before = [at for at in before + (loose if _CONTENT_FOLLOWS.match(query, end) else [])
                            if line_start <= at <= start]
            if any(start - at <= _NEAR_VERB for at in verbs_before):
                return True
            if any(end <= at <= line_end and at - end <= _NEAR_VERB for at in after):
                return True
    return False


def _asks_in_general(query: str) -> bool:
    """A comparison with no digit but a version's, or a question marked as general, that is not an
    afterthought to an earlier question ("where is `OnTileMatched` raised? also unrelated but whats the diff
    between Awake and Start": a search, labelled by its first request; a gold row of AC)."""
    comparison = _COMPARISON.search(query)
    if comparison and _DIGIT.search(_VERSION.sub(" ", query)):
        comparison = None
    match = comparison or _MARKED_GENERAL.search(query)
    return match is not None and not _AFTERTHOUGHT.search(query, 0, match.start())
