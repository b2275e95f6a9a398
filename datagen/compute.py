"""Computation tasks for sandbox_exec: each yields a request and a Python program that prints the answer.

Every program is executed at generation time (see `datagen.sandbox_run`) and kept only if it exits
cleanly and prints something, so the training data never teaches code that does not run.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ComputeTask:
    family: str
    text: str
    """The request, with {0}, {1} ... standing for protected slot values."""
    slots: list[str]
    code: str
    reason: str
    """Why this needs running rather than answering: used in the thought."""


WORDS = ("deploy", "latency", "invoice", "checkout", "router", "kafka", "payload", "session", "token",
         "webhook", "cluster", "migration", "tenant", "shard", "replica", "backup", "canary", "ledger")


def _word(rng: random.Random) -> str:
    return rng.choice(WORDS)


def _sample_string(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return f"{_word(rng)}-{rng.randint(1, 999)}"
    if kind == 1:
        return f"{_word(rng)}:{''.join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(6, 12)))}"
    if kind == 2:
        return " ".join(rng.sample(WORDS, 3))
    return f"{rng.choice(('admin', 'svc_ci', 'alice', 'bob', 'deploy-bot'))}@{rng.choice(('example.com', 'acme.io', 'corp.local'))}"


def _date(rng: random.Random) -> str:
    return f"{rng.randint(2019, 2027)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


Family = Callable[[random.Random], ComputeTask]
FAMILIES: dict[str, Family] = {}


def family(fn: Family) -> Family:
    FAMILIES[fn.__name__] = fn
    return fn


@family
def byte_units(rng: random.Random) -> ComputeTask:
    n = rng.choice((1.5, 2, 3.5, 7, 12, 64, 250, 512, 750, 1024, 4096))
    src, dst = rng.choice((("GiB", "MB"), ("GB", "GiB"), ("MiB", "bytes"), ("TiB", "GB"), ("GiB", "bytes"), ("MB", "MiB")))
    text = rng.choice(("how many {1} is {0} {2}?", "convert {0} {2} to {1}", "{0} {2} in {1}, exactly",
                       "what's {0} {2} expressed in {1}"))
    code = (
        'U = {"bytes": 1, "MB": 10**6, "GB": 10**9, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}\n'
        f"value = {n} * U[{src!r}] / U[{dst!r}]\n"
        f'print(f"{n} {src} = {{value:,.4f}} {dst}")'
    )
    return ComputeTask("byte_units", text, [str(n), dst, src], code, "unit conversion between binary and decimal prefixes")


@family
def duration_seconds(rng: random.Random) -> ComputeTask:
    d, h, m = rng.randint(0, 90), rng.randint(0, 23), rng.choice((0, 15, 30, 45))
    text = rng.choice(("how many seconds in {0} days {1} hours {2} minutes?",
                       "convert {0}d {1}h {2}m to seconds for a TTL", "TTL value in seconds for {0} days, {1} hours and {2} min?"))
    code = f"total = {d} * 86400 + {h} * 3600 + {m} * 60\nprint(total)"
    return ComputeTask("duration_seconds", text, [str(d), str(h), str(m)], code, "exact duration arithmetic")


@family
def unix_timestamp(rng: random.Random) -> ComputeTask:
    ts = rng.randint(1_500_000_000, 1_900_000_000)
    ms = rng.random() < 0.3
    value = ts * 1000 + rng.randint(0, 999) if ms else ts
    text = rng.choice(("what date is unix timestamp {0}?", "convert epoch {0} to a human readable UTC time",
                       "{0} - what time is that in UTC", "decode this timestamp from the logs: {0}"))
    div = "/ 1000" if ms else ""
    code = (
        "from datetime import datetime, timezone\n"
        f"print(datetime.fromtimestamp({value} {div}, tz=timezone.utc).isoformat())"
    )
    return ComputeTask("unix_timestamp", text, [str(value)], code, "epoch conversion is error-prone by hand")


@family
def weekday(rng: random.Random) -> ComputeTask:
    d = _date(rng)
    text = rng.choice(("what day of the week is {0}?", "is {0} a weekend?", "which weekday does {0} fall on"))
    code = f"from datetime import date\nd = date.fromisoformat({d!r})\nprint(d.strftime('%A'), '(weekend)' if d.weekday() >= 5 else '(weekday)')"
    return ComputeTask("weekday", text, [d], code, "calendar lookup")


@family
def days_between(rng: random.Random) -> ComputeTask:
    a, b = sorted((_date(rng), _date(rng)))
    text = rng.choice(("how many days between {0} and {1}?", "days from {0} to {1}?",
                       "our cert was issued {0} and expires {1}, how many days is that"))
    code = f"from datetime import date\nprint((date.fromisoformat({b!r}) - date.fromisoformat({a!r})).days)"
    return ComputeTask("days_between", text, [a, b], code, "date difference across months and leap years")


@family
def date_plus(rng: random.Random) -> ComputeTask:
    d, n = _date(rng), rng.choice((30, 45, 60, 90, 100, 180, 365, 400))
    text = rng.choice(("what's the date {1} days after {0}?", "if a token is issued on {0} with a {1}-day expiry, when does it expire",
                       "{0} + {1} days = ?"))
    code = f"from datetime import date, timedelta\nprint(date.fromisoformat({d!r}) + timedelta(days={n}))"
    return ComputeTask("date_plus", text, [d, str(n)], code, "date arithmetic")


@family
def hash_digest(rng: random.Random) -> ComputeTask:
    algo = rng.choice(("sha256", "md5", "sha1", "sha512", "blake2b"))
    s = _sample_string(rng)
    text = rng.choice(("what's the {1} of the string '{0}'?", "{1} hash of \"{0}\" please",
                       "compute {1}('{0}')", "I need the {1} hex digest of '{0}' to compare with the db"))
    code = f"import hashlib\nprint(hashlib.{algo}({s!r}.encode()).hexdigest())"
    return ComputeTask("hash_digest", text, [s, algo], code, "hash digests cannot be computed mentally")


@family
def base64_codec(rng: random.Random) -> ComputeTask:
    s = _sample_string(rng)
    if rng.random() < 0.5:
        text = rng.choice(("base64 encode '{0}'", "what's '{0}' in base64?", "give me the base64 of {0} for the auth header"))
        code = f"import base64\nprint(base64.b64encode({s!r}.encode()).decode())"
        return ComputeTask("base64_codec", text, [s], code, "encoding bytes exactly")
    enc = base64.b64encode(s.encode()).decode()
    text = rng.choice(("decode this base64: {0}", "what does {0} decode to?", "base64 -d {0}, what's inside"))
    code = f"import base64\nprint(base64.b64decode({enc!r}).decode())"
    return ComputeTask("base64_codec", text, [enc], code, "decoding the bytes exactly")


@family
def url_codec(rng: random.Random) -> ComputeTask:
    s = rng.choice(("name=Jane Doe&city=São Paulo", "q=rust async/await", "redirect=https://acme.io/a?b=c",
                    "filter=status:open AND owner:me", "path=/tmp/my file.txt", "tag=c++ & c#"))
    text = rng.choice(("url-encode this: {0}", "percent-encode '{0}' for a query string", "what's {0} after urllib quote?"))
    code = f"from urllib.parse import quote\nprint(quote({s!r}, safe=''))"
    return ComputeTask("url_codec", text, [s], code, "exact percent-encoding")


@family
def number_bases(rng: random.Random) -> ComputeTask:
    n = rng.choice((255, 4096, 65535, 493, 420, 1337, 8080, 3735928559, 48879, 0o755, 1023))
    fmt = rng.choice(("hex", "binary", "octal"))
    src = rng.choice(("dec", "hex"))
    shown = hex(n) if src == "hex" else str(n)
    text = rng.choice(("what is {0} in {1}?", "convert {0} to {1}", "{0} -> {1}"))
    spec = {"hex": "x", "binary": "b", "octal": "o"}[fmt]
    code = f"n = {shown}\nprint(n, '=', format(n, {spec!r}), '({fmt})')"
    return ComputeTask("number_bases", text, [shown, fmt], code, "base conversion")


_REGEXES = (
    (r"^\d{3}-\d{4}$", ("555-1234", "5551234", "555-12345")),
    (r"^[a-z0-9_-]{3,16}$", ("dev_ops-42", "Admin", "ab")),
    (r"^v\d+\.\d+\.\d+(-rc\.\d+)?$", ("v1.2.3", "v1.2.3-rc.1", "1.2.3")),
    (r"^[\w.+-]+@[\w-]+\.[\w.]+$", ("alice+test@acme.io", "bob@localhost", "no-at-sign.com")),
    (r"^(feat|fix|chore)(\([a-z-]+\))?: .+", ("feat(api): add pagination", "Fix: typo", "chore: bump deps")),
    (r"\b[A-Z]{2,}-\d+\b", ("see PROJ-123 and OPS-9", "no ticket here", "web-42")),
    (r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", ("2024-05-01T12:00:00Z", "2024-05-01 12:00:00", "2024-5-1T12:00:00Z")),
    (r"^(?:\d{1,3}\.){3}\d{1,3}$", ("10.0.0.1", "256.1.1.1", "10.0.0")),
    (r"^[A-Z][a-zA-Z0-9]*$", ("InvoiceService", "invoiceService", "Invoice_Service")),
)


@family
def regex_check(rng: random.Random) -> ComputeTask:
    pattern, samples = rng.choice(_REGEXES)
    s = rng.choice(samples)
    text = rng.choice(("does the regex {0} match '{1}'?", "quick check: will `{0}` match {1}",
                       "test {0} against \"{1}\" for me", "is '{1}' matched by /{0}/ ?"))
    code = f"import re\nm = re.search({pattern!r}, {s!r})\nprint('match' if m else 'no match', repr(m.group(0)) if m else '')"
    return ComputeTask("regex_check", text, [pattern, s], code, "regex behaviour is best verified by running it")


@family
def regex_findall(rng: random.Random) -> ComputeTask:
    log = rng.choice((
        "GET /api/users 200 12ms; POST /api/orders 500 340ms; GET /health 200 1ms",
        "user=alice id=42 user=bob id=7 user=carol id=1999",
        "ERROR db timeout; WARN slow query; ERROR cache miss storm; INFO ok",
        "v1.2.0 v1.10.3 v2.0.0-rc.1 v0.9.12",
    ))
    pattern = rng.choice((r"\d+ms", r"id=(\d+)", r"ERROR ([a-z ]+)", r"v(\d+)\.(\d+)\.(\d+)", r"\b[A-Z]{4,5}\b"))
    text = rng.choice(("what does re.findall({0}) return on: {1}", "extract matches of {0} from this line: {1}",
                       "run {0} over `{1}` and show me the matches"))
    code = f"import re\nprint(re.findall({pattern!r}, {log!r}))"
    return ComputeTask("regex_findall", text, [pattern, log], code, "running the pattern shows the exact matches")


@family
def json_valid(rng: random.Random) -> ComputeTask:
    doc = rng.choice((
        '{"name": "api", "replicas": 3, "ports": [80, 443]}', "{'name': 'api'}", '{"a": 1,}',
        '{"enabled": true, "ratio": 0.25, "tags": []}', '[1, 2, 3', '{"nested": {"ok": null}}',
        '{"timeout": 30, "retries": 5, "backoff": "exp"}', '{"key": "value" "other": 1}'))
    text = rng.choice(("is this valid JSON? {0}", "will json.loads accept {0}", "validate this json: {0}"))
    code = (
        "import json\n"
        f"doc = {doc!r}\n"
        "try:\n    print('valid:', json.loads(doc))\nexcept json.JSONDecodeError as e:\n    print('invalid:', e)"
    )
    return ComputeTask("json_valid", text, [doc], code, "the parser gives a definitive verdict and error position")


@family
def latency_stats(rng: random.Random) -> ComputeTask:
    xs = [rng.randint(8, 900) for _ in range(rng.randint(8, 16))]
    stat = rng.choice(("p95", "p99", "median", "mean and stdev", "p50/p90/p99"))
    text = rng.choice(("here are some latencies in ms: {0}. what's the {1}?", "{1} of {0}?",
                       "compute the {1} for these response times: {0}"))
    code = (
        "import statistics\n"
        f"xs = {xs}\n"
        "q = statistics.quantiles(xs, n=100, method='inclusive')\n"
        "print('median', statistics.median(xs), 'mean', round(statistics.mean(xs), 2), 'stdev', round(statistics.stdev(xs), 2))\n"
        "print('p50', q[49], 'p90', q[89], 'p95', q[94], 'p99', q[98])"
    )
    return ComputeTask("latency_stats", text, [", ".join(map(str, xs)), stat], code, "percentiles over a list of samples")


@family
def percent_change(rng: random.Random) -> ComputeTask:
    a = rng.randint(50, 2000)
    b = max(1, int(a * rng.uniform(0.3, 1.9)))
    unit = rng.choice(("ms", "MB", "req/s", "USD/month", "seconds", "%CPU"))
    text = rng.choice(("went from {0} to {1} {2}, what's the percent change?", "{0} {2} -> {1} {2}: how much faster/slower in %?",
                       "percentage difference between {0} and {1} {2}?"))
    code = f"a, b = {a}, {b}\nprint(f'{{(b - a) / a * 100:+.2f}}%  (ratio {{b / a:.3f}}x)')"
    return ComputeTask("percent_change", text, [str(a), str(b), unit], code, "relative change arithmetic")


@family
def throughput(rng: random.Random) -> ComputeTask:
    workers, ms = rng.choice((2, 4, 8, 16, 32, 64)), rng.choice((5, 12, 35, 80, 120, 250))
    text = rng.choice(("{0} workers, each request takes {1} ms: max requests per second and per day?",
                       "if one handler call is {1}ms and we run {0} of them in parallel, what throughput can we hit",
                       "capacity check: {0} concurrent workers x {1} ms per job"))
    code = f"rps = {workers} * 1000 / {ms}\nprint(f'{{rps:,.1f}} req/s, {{rps * 86400:,.0f}} req/day')"
    return ComputeTask("throughput", text, [str(workers), str(ms)], code, "capacity arithmetic")


@family
def storage_estimate(rng: random.Random) -> ComputeTask:
    rows, size = rng.choice((250_000, 2_000_000, 40_000_000, 1_200_000_000)), rng.choice((128, 512, 900, 2048))
    rep = rng.choice((1, 2, 3))
    text = rng.choice(("{0} rows at about {1} bytes each with replication factor {2}, how much disk?",
                       "estimate storage: {0} records x {1} B, {2} replicas",
                       "how many GiB for {0} rows of {1} bytes, replicated {2}x?"))
    code = f"total = {rows} * {size} * {rep}\nprint(f'{{total:,}} bytes = {{total / 2**30:,.2f}} GiB')"
    return ComputeTask("storage_estimate", text, [f"{rows:,}", str(size), str(rep)], code, "sizing arithmetic")


@family
def cidr(rng: random.Random) -> ComputeTask:
    net = rng.choice(("10.0.0.0/22", "192.168.1.64/27", "172.16.0.0/12", "10.20.30.0/24", "100.64.0.0/10", "10.1.128.0/17"))
    if rng.random() < 0.5:
        text = rng.choice(("how many usable hosts in {0}?", "size of the {0} subnet?", "{0} - first and last address?"))
        code = (f"import ipaddress\nn = ipaddress.ip_network({net!r})\n"
                "print(n.num_addresses, 'addresses,', n.num_addresses - 2, 'usable;', n[0], '-', n[-1])")
        return ComputeTask("cidr", text, [net], code, "subnet maths")
    ip = rng.choice(("10.0.3.17", "192.168.1.77", "172.31.255.1", "10.20.31.5", "100.100.1.1", "10.1.200.9"))
    text = rng.choice(("is {1} inside {0}?", "does {0} contain {1}", "check whether {1} falls in {0}"))
    code = f"import ipaddress\nprint(ipaddress.ip_address({ip!r}) in ipaddress.ip_network({net!r}))"
    return ComputeTask("cidr", text, [net, ip], code, "subnet membership check")


@family
def semver_compare(rng: random.Random) -> ComputeTask:
    vs = rng.sample(("1.9.3", "1.10.0", "2.0.0", "1.10.12", "0.9.15", "1.2.10", "1.2.9", "3.0.1", "2.11.0"), 2)
    text = rng.choice(("is {0} newer than {1}?", "semver compare {0} vs {1}", "which is higher, {0} or {1}"))
    code = (f"a, b = {vs[0]!r}, {vs[1]!r}\nka, kb = (tuple(map(int, v.split('.'))) for v in (a, b))\n"
            "print(a, '>' if ka > kb else '<' if ka < kb else '==', b)")
    return ComputeTask("semver_compare", text, vs, code, "numeric, not lexical, version comparison")


@family
def primes(rng: random.Random) -> ComputeTask:
    n = rng.choice((97, 1009, 7919, 104729, 999983, 1000003, 2147483647, 600851475143, 561, 8191, 65537))
    text = rng.choice(("is {0} prime?", "factorise {0}", "prime factors of {0}?"))
    code = ("n = {n}\nf, d, m = [], 2, n\nwhile d * d <= m:\n    while m % d == 0:\n        f.append(d)\n        m //= d\n"
            "    d += 1\nif m > 1:\n    f.append(m)\nprint(n, 'is prime' if f == [n] else f'= {{f}}')").format(n=n)
    return ComputeTask("primes", text, [str(n)], code, "factorisation needs actual computation")


@family
def combinatorics(rng: random.Random) -> ComputeTask:
    n, k = rng.randint(5, 60), rng.randint(2, 6)
    text = rng.choice(("how many ways to choose {1} out of {0}?", "{0} choose {1}?",
                       "number of {1}-node combinations from a {0}-node cluster"))
    code = f"import math\nprint(math.comb({n}, {k}), 'combinations;', math.perm({n}, {k}), 'ordered')"
    return ComputeTask("combinatorics", text, [str(n), str(k)], code, "combinatorial count")


_EXPRS = (
    "round(2.5)", "round(3.5)", "'a,b,,c'.split(',')", "sorted(['b', 'A', 'c'])", "int('0x1F', 16)",
    "bool('False')", "0.1 + 0.2 == 0.3", "'straße'.upper()", "len('héllo'.encode())", "divmod(-7, 2)", "-7 // 2",
    "int(-2.7)", "list(range(10, 0, -3))", "{1, True, 1.0}", "'%.2f' % 2.675", "[[0] * 2] * 2",
    "'abc'[::-1]", "max([], default=None)", "' x '.strip() or 'empty'", "dict.fromkeys('aab')",
    "[i for i in range(5) if i % 2]", "'{:>8}'.format('id')", "2 ** 64 - 1", "1e16 + 1 == 1e16",
    "tuple('abc') + ('d',)", "(any([]), all([]))", "'10' < '9'", "list(zip([1, 2, 3], 'ab'))",
    "float('nan') == float('nan')", "(-1) % 5", "sum([0.1] * 10)", "str(None)", "[] is []",
)


@family
def python_behaviour(rng: random.Random) -> ComputeTask:
    expr = rng.choice(_EXPRS)
    text = rng.choice(("what does `{0}` evaluate to in Python?", "python: {0} -> ?", "quick sanity check, what's {0} in python 3",
                       "I always forget - what is {0}?", "run {0} and tell me the result"))
    code = f"print(repr({expr}))"
    return ComputeTask("python_behaviour", text, [expr], code, "running it beats remembering the language's edge cases")


@family
def string_stats(rng: random.Random) -> ComputeTask:
    s = rng.choice(("The quick brown fox jumps over the lazy dog", "error: connection reset by peer (retry 3/5)",
                    "feat(api): add cursor pagination to /v2/orders endpoint", "Ünïcödé strings are fun",
                    "SELECT id, email FROM users WHERE deleted_at IS NULL"))
    what = rng.choice(("length in characters and UTF-8 bytes", "word count", "character frequency", "number of vowels"))
    text = rng.choice(("{1} of '{0}'?", "for the string \"{0}\", give me the {1}", "count the {1} in: {0}"))
    code = (f"s = {s!r}\nfrom collections import Counter\n"
            "print('chars', len(s), 'bytes', len(s.encode()), 'words', len(s.split()))\n"
            "print('vowels', sum(c in 'aeiouAEIOU' for c in s), Counter(s.replace(' ', '')).most_common(5))")
    return ComputeTask("string_stats", text, [s, what], code, "precise character and word counts")


@family
def list_ops(rng: random.Random) -> ComputeTask:
    xs = rng.sample(("api", "web", "worker", "cron", "db", "cache", "auth", "search", "queue", "billing"), 6)
    xs += rng.sample(xs, 2)
    op = rng.choice(("sorted and deduplicated", "reversed", "counted by item", "grouped by first letter"))
    text = rng.choice(("give me this list {1}: {0}", "{0} - {1} please", "take [{0}] and return it {1}"))
    code = (f"xs = {xs!r}\nfrom collections import Counter, defaultdict\n"
            "g = defaultdict(list)\nfor x in xs:\n    g[x[0]].append(x)\n"
            "print(sorted(set(xs)))\nprint(xs[::-1])\nprint(dict(Counter(xs)))\nprint(dict(g))")
    return ComputeTask("list_ops", text, [", ".join(xs), op], code, "list manipulation is quick to verify by running")


@family
def bit_ops(rng: random.Random) -> ComputeTask:
    a, b = rng.randint(1, 4096), rng.randint(1, 4096)
    op = rng.choice(("&", "|", "^", "<<", ">>"))
    if op in ("<<", ">>"):
        b = rng.randint(1, 12)
    text = rng.choice(("what's {0} {1} {2}?", "compute {0} {1} {2} in binary too", "bitwise: {0} {1} {2} = ?"))
    code = f"r = {a} {op} {b}\nprint(r, bin(r), hex(r), 'popcount', bin(r).count('1'))"
    return ComputeTask("bit_ops", text, [str(a), op, str(b)], code, "bitwise arithmetic")


@family
def growth(rng: random.Random) -> ComputeTask:
    start, pct, months = rng.choice((1000, 25_000, 1_200_000)), rng.choice((3, 5, 8, 12, 20)), rng.choice((6, 12, 18, 24, 36))
    text = rng.choice(("we have {0} users growing {1}% a month, how many after {2} months?",
                       "traffic is {0} req/day and grows {1}% monthly - projection for {2} months out",
                       "compound {0} at {1}% per month over {2} months"))
    code = f"v = {start} * (1 + {pct} / 100) ** {months}\nprint(f'{{v:,.0f}} after {months} months ({{v / {start}:.2f}}x)')"
    return ComputeTask("growth", text, [f"{start:,}", str(pct), str(months)], code, "compound growth projection")


@family
def jwt_decode(rng: random.Random) -> ComputeTask:
    payload = {"sub": str(rng.randint(1000, 99999)), "role": rng.choice(("admin", "viewer", "editor")),
               "exp": rng.randint(1_700_000_000, 1_900_000_000)}

    def seg(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")

    token = f"{seg({'alg': 'HS256', 'typ': 'JWT'})}.{seg(payload)}.{''.join(rng.choices(string.ascii_letters, k=22))}"
    text = rng.choice(("decode the payload of this JWT: {0}", "what claims are in {0}?", "when does this token expire? {0}"))
    code = ("import base64, json\nfrom datetime import datetime, timezone\n"
            f"token = {token!r}\npart = token.split('.')[1]\n"
            "claims = json.loads(base64.urlsafe_b64decode(part + '=' * (-len(part) % 4)))\n"
            "print(claims)\nprint('expires', datetime.fromtimestamp(claims['exp'], tz=timezone.utc).isoformat())")
    return ComputeTask("jwt_decode", text, [token], code, "decoding the token's base64url payload exactly")


@family
def tz_offset(rng: random.Random) -> ComputeTask:
    hh, mm = rng.randint(0, 23), rng.choice((0, 15, 30, 45))
    off = rng.choice(("+05:30", "-08:00", "+09:00", "-03:00", "+01:00", "+05:45", "-05:00"))
    text = rng.choice(("what's {0} UTC in UTC{1}?", "convert {0}Z to offset {1}", "the job runs at {0} UTC, what local time is that at {1}"))
    t = f"{hh:02d}:{mm:02d}"
    sign = -1 if off[0] == "-" else 1
    code = ("from datetime import datetime, timedelta, timezone\n"
            f"tz = timezone({sign} * timedelta(hours={int(off[1:3])}, minutes={int(off[4:6])}))\n"
            f"t = datetime(2024, 6, 1, {hh}, {mm}, tzinfo=timezone.utc)\nprint(t.astimezone(tz).strftime('%H:%M %z (%a)'))")
    return ComputeTask("tz_offset", text, [t, off], code, "timezone offset arithmetic")


@family
def password_entropy(rng: random.Random) -> ComputeTask:
    length, charset = rng.choice((8, 12, 16, 20, 32)), rng.choice((10, 26, 36, 62, 94))
    text = rng.choice(("entropy in bits of a random {0}-char password from a {1}-symbol alphabet?",
                       "how many bits of entropy: length {0}, charset size {1}", "{0} chars, {1} possible symbols each - how strong?"))
    code = f"import math\nbits = {length} * math.log2({charset})\nprint(f'{{bits:.1f}} bits, {{{charset}**{length}:.3e}} combinations')"
    return ComputeTask("password_entropy", text, [str(length), str(charset)], code, "entropy calculation")


@family
def levenshtein(rng: random.Random) -> ComputeTask:
    a, b = rng.choice((("kitten", "sitting"), ("recieve", "receive"), ("InvoiceService", "InvoiceServices"),
                       ("colour", "color"), ("flaw", "lawn"), ("main", "master"), ("deploy", "redeploy")))
    text = rng.choice(("edit distance between '{0}' and '{1}'?", "levenshtein({0}, {1})?",
                       "how many single-char edits turn {0} into {1}"))
    code = (f"a, b = {a!r}, {b!r}\nprev = list(range(len(b) + 1))\nfor i, ca in enumerate(a, 1):\n    cur = [i]\n"
            "    for j, cb in enumerate(b, 1):\n        cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))\n"
            "    prev = cur\nprint(prev[-1])")
    return ComputeTask("levenshtein", text, [a, b], code, "dynamic-programming distance")


@family
def gcd_lcm(rng: random.Random) -> ComputeTask:
    a, b = rng.randint(6, 5000), rng.randint(6, 5000)
    text = rng.choice(("gcd and lcm of {0} and {1}?", "two cron jobs run every {0}s and {1}s - when do they coincide?",
                       "least common multiple of {0} and {1}"))
    code = f"import math\nprint('gcd', math.gcd({a}, {b}), 'lcm', math.lcm({a}, {b}))"
    return ComputeTask("gcd_lcm", text, [str(a), str(b)], code, "number theory")


@family
def compression(rng: random.Random) -> ComputeTask:
    s, n = _sample_string(rng), rng.choice((100, 1000, 10000))
    text = rng.choice(("how well does zlib compress '{0}' repeated {1} times?", "gzip ratio for {1} copies of \"{0}\"?",
                       "experiment: compressed size of {0} x{1}"))
    code = f"import zlib\ndata = ({s!r} * {n}).encode()\nc = zlib.compress(data, 9)\nprint(len(data), '->', len(c), f'bytes, ratio {{len(data) / len(c):.1f}}x')"
    return ComputeTask("compression", text, [s, str(n)], code, "an experiment gives the real number")


@family
def csv_aggregate(rng: random.Random) -> ComputeTask:
    rows = [(rng.choice(("api", "web", "worker")), rng.randint(1, 500)) for _ in range(rng.randint(5, 9))]
    csv_text = "service,ms; " + "; ".join(f"{s},{v}" for s, v in rows)
    text = rng.choice(("average ms per service from this csv: {0}", "sum the ms column grouped by service: {0}",
                       "group by service and give max: {0}"))
    code = (f"rows = {rows!r}\nfrom collections import defaultdict\ng = defaultdict(list)\nfor s, v in rows:\n    g[s].append(v)\n"
            "for s, vs in sorted(g.items()):\n    print(s, 'n', len(vs), 'sum', sum(vs), 'avg', round(sum(vs) / len(vs), 1), 'max', max(vs))")
    return ComputeTask("csv_aggregate", text, [csv_text], code, "aggregation over pasted data")


@family
def uuid_check(rng: random.Random) -> ComputeTask:
    import uuid as _uuid

    good = str(_uuid.UUID(int=rng.getrandbits(128), version=4))
    s = rng.choice((good, good[:-1], good.replace("-", ""), good.upper(), good[:8] + "-zzzz" + good[13:]))
    text = rng.choice(("is {0} a valid UUID?", "validate this uuid: {0}", "which version is uuid {0}?"))
    code = (f"import uuid\ns = {s!r}\ntry:\n    u = uuid.UUID(s)\n    print('valid, version', u.version, str(u))\n"
            "except ValueError as e:\n    print('invalid:', e)")
    return ComputeTask("uuid_check", text, [s], code, "parsing gives a definite answer")


@family
def crc_checksum(rng: random.Random) -> ComputeTask:
    s = _sample_string(rng)
    text = rng.choice(("crc32 of '{0}'?", "what checksum (crc32 and adler32) does \"{0}\" give", "zlib.crc32 of {0} as hex"))
    code = f"import zlib\nb = {s!r}.encode()\nprint('crc32', hex(zlib.crc32(b)), 'adler32', hex(zlib.adler32(b)))"
    return ComputeTask("crc_checksum", text, [s], code, "checksums need computing")


@family
def sorting_stability(rng: random.Random) -> ComputeTask:
    expr, q = rng.choice((
        ("sorted([('b', 2), ('a', 2), ('c', 1)], key=lambda t: t[1])", "is python's sort stable? try {0}"),
        ("sorted(['item10', 'item2', 'item1'])", "how does python sort {0}, naturally or lexically?"),
        ("sorted(['Zeta', 'alpha', 'Beta'], key=str.lower)", "check what {0} returns"),
        ("sorted([3, 1, 2], reverse=True)", "sanity-check {0}"),
        ("sorted({'b': 1, 'a': 2}.items(), key=lambda kv: kv[1])", "what does {0} give"),
    ))
    return ComputeTask("sorting_stability", q, [expr], f"print({expr})", "running the sort shows the real ordering")


@family
def matrix_math(rng: random.Random) -> ComputeTask:
    a = [[rng.randint(-5, 9) for _ in range(2)] for _ in range(2)]
    b = [[rng.randint(-5, 9) for _ in range(2)] for _ in range(2)]
    text = rng.choice(("multiply {0} by {1}", "matrix product {0} @ {1}?", "what's the determinant and product of {0} and {1}"))
    code = (f"a, b = {a}, {b}\nprod = [[sum(a[i][k] * b[k][j] for k in range(2)) for j in range(2)] for i in range(2)]\n"
            "print('product', prod, 'det(a)', a[0][0] * a[1][1] - a[0][1] * a[1][0])")
    return ComputeTask("matrix_math", text, [str(a), str(b)], code, "matrix arithmetic")


@family
def retry_backoff(rng: random.Random) -> ComputeTask:
    base, factor, retries, cap = rng.choice((100, 250, 500, 1000)), rng.choice((2, 3)), rng.randint(4, 10), rng.choice((10_000, 30_000, 60_000))
    text = rng.choice(("with exponential backoff base {0}ms, factor {1}, {2} retries, capped at {3}ms, what's the total wait?",
                       "list the retry delays: start {0} ms, x{1} each time, {2} attempts, max {3} ms",
                       "worst-case time spent sleeping for {2} retries (base {0}ms, multiplier {1}, cap {3}ms)?"))
    code = (f"delays = [min({base} * {factor} ** i, {cap}) for i in range({retries})]\n"
            "print('delays ms', delays)\nprint('total', sum(delays), 'ms =', sum(delays) / 1000, 's')")
    return ComputeTask("retry_backoff", text, [str(base), str(factor), str(retries), str(cap)], code, "summing a capped geometric series")


@family
def cron_next(rng: random.Random) -> ComputeTask:
    every = rng.choice((5, 7, 10, 15, 20, 45))
    hh, mm = rng.randint(0, 23), rng.randint(0, 59)
    text = rng.choice(("a job runs every {0} minutes starting at midnight; when is the next run after {1}?",
                       "*/{0} * * * * - what's the first run at or after {1}?", "next tick of an every-{0}-minutes schedule after {1}"))
    code = (f"now = {hh} * 60 + {mm}\nnxt = -(-now // {every}) * {every}\n"
            "print(f'{nxt // 60 % 24:02d}:{nxt % 60:02d}')")
    return ComputeTask("cron_next", text, [str(every), f"{hh:02d}:{mm:02d}"], code, "schedule arithmetic")


@family
def arithmetic(rng: random.Random) -> ComputeTask:
    a, b, c = rng.randint(2, 999), rng.randint(2, 99), rng.randint(1, 500)
    expr = rng.choice((f"{a} * {b} + {c}", f"({a} + {c}) / {b}", f"{a} ** 3 - {c}", f"{a} * {b} * {c}",
                       f"{a} % {b}", f"({a} - {c}) * {b} / 7", f"2 ** {b % 70} - 1"))
    text = rng.choice(("what is {0}?", "calc {0}", "{0} = ?", "quick math: {0}", "evaluate {0} for me"))
    return ComputeTask("arithmetic", text, [expr], f"print({expr})", "exact arithmetic")


@family
def list_median(rng: random.Random) -> ComputeTask:
    xs = [rng.randint(-20, 200) for _ in range(rng.randint(4, 9))]
    what = rng.choice(("median", "mean", "max and min", "sum", "mode"))
    text = rng.choice(("sort {0} and print the {1}", "given {0}, what's the {1}?", "{1} of {0}?", "take {0}, sort it, {1} please"))
    code = (f"import statistics\nxs = sorted({xs})\nprint('sorted', xs)\n"
            "print('median', statistics.median(xs), 'mean', round(statistics.mean(xs), 3), 'sum', sum(xs), 'min', xs[0], 'max', xs[-1], 'mode', statistics.mode(xs))")
    return ComputeTask("list_median", text, [str(xs), what], code, "sorting and summarising a list")


_BENCHES = (
    ("list comprehension vs map for squaring {n} numbers", "[x * x for x in range({n})]", "list(map(lambda x: x * x, range({n})))"),
    ("str.join vs += for concatenating {n} short strings", "''.join(str(i) for i in range({n}))",
     "s = ''\nfor i in range({n}):\n    s += str(i)"),
    ("membership test in a set vs a list of {n} items", "{n} - 1 in set_", "{n} - 1 in list_"),
    ("sorted() vs heapq.nsmallest(10) on {n} random floats", "sorted(data)[:10]", "heapq.nsmallest(10, data)"),
    ("dict.get vs try/except KeyError over {n} lookups", "[d.get(i) for i in range({n})]",
     "out = []\nfor i in range({n}):\n    try:\n        out.append(d[i])\n    except KeyError:\n        out.append(None)"),
)


@family
def micro_benchmark(rng: random.Random) -> ComputeTask:
    title, a, b = rng.choice(_BENCHES)
    n = rng.choice((1000, 10000, 100000))
    title = title.format(n=f"{n:,}" if rng.random() < 0.5 else f"1e{len(str(n)) - 1}")
    text = rng.choice(("run a quick benchmark comparing {0}", "which is faster: {0}?", "benchmark {0} for me",
                       "measure {0} with timeit"))
    setup = (f"import heapq, random\nrandom.seed(0)\ndata = [random.random() for _ in range({n})]\n"
             f"list_ = list(range({n}))\nset_ = set(list_)\nd = dict.fromkeys(range(0, {n}, 2), 1)")
    code = ("import timeit\n"
            f"setup = {setup!r}\n"
            f"a = timeit.timeit({a.format(n=n)!r}, setup=setup, number=5)\n"
            f"b = timeit.timeit({b.format(n=n)!r}, setup=setup, number=5)\n"
            "print(f'first: {a / 5 * 1000:.3f} ms/run, second: {b / 5 * 1000:.3f} ms/run, ratio {b / a:.2f}x')")
    return ComputeTask("micro_benchmark", text, [title], code, "timings have to be measured, not guessed")


def compose_compute(rng: random.Random) -> ComputeTask:
    return FAMILIES[rng.choice(sorted(FAMILIES))](rng)
