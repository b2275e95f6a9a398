"""Benchmark codebase_search on a real codebase already on disk: the installed `fastapi` package.

Measures the cold index time (chunk + embed every file), a warm refresh (nothing changed), query p50 per
mode, and recall@5 on a labelled set of natural-language queries written for FastAPI's source. A query
counts as found when a top-5 hit is in the labelled file and its line range covers the labelled symbol's
definition. Prints a Markdown table with the machine and date; `--out` appends it to a file.

    uv run python -m bench.tools_search [--package fastapi] [--out bench/tools_search_results.md]
"""

from __future__ import annotations

import argparse
import ast
import datetime
import importlib
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from contract import CodebaseSearchArgs
from tool_executors.codebase_search import CodebaseSearch
from tool_executors.workspace import Workspace

# (query, [(file, symbol), ...]): any of the listed definitions is a correct answer.
LABELLED = [
    ("convert an arbitrary object into something JSON serializable", [("encoders.py", "jsonable_encoder")]),
    ("encode Decimal values as int or float", [("encoders.py", "decimal_encoder")]),
    ("turn an HTTPException into a JSON error response", [("exception_handlers.py", "http_exception_handler")]),
    ("respond 422 with the request validation errors",
     [("exception_handlers.py", "request_validation_exception_handler")]),
    ("read a bearer token from the Authorization header", [("security/http.py", "HTTPBearer")]),
    ("HTTP basic authentication with username and password",
     [("security/http.py", "HTTPBasic"), ("security/http.py", "HTTPBasicCredentials")]),
    ("OAuth2 password flow login form with username, password and scopes",
     [("security/oauth2.py", "OAuth2PasswordRequestForm")]),
    ("API key passed as a query parameter", [("security/api_key.py", "APIKeyQuery")]),
    ("API key read from a cookie", [("security/api_key.py", "APIKeyCookie")]),
    ("split the Authorization header value into scheme and credentials",
     [("security/utils.py", "get_authorization_scheme_param")]),
    ("generate the OpenAPI schema document for the whole application", [("openapi/utils.py", "get_openapi")]),
    ("resolve and call all the dependencies of an endpoint", [("dependencies/utils.py", "solve_dependencies")]),
    ("parse the request body into the declared body parameters",
     [("dependencies/utils.py", "request_body_to_args")]),
    ("extract the parameter names from a URL path template", [("utils.py", "get_path_param_names")]),
    ("which HTTP status codes must not have a response body", [("utils.py", "is_body_allowed_for_status_code")]),
    ("build a unique operation id for a route",
     [("utils.py", "generate_unique_id"), ("utils.py", "generate_operation_id_for_path"),
      ("openapi/utils.py", "generate_operation_id")]),
    ("run a context manager in a worker thread", [("concurrency.py", "contextmanager_in_threadpool")]),
    ("a file uploaded in a multipart form", [("datastructures.py", "UploadFile")]),
    ("run functions in the background after the response has been sent", [("background.py", "BackgroundTasks")]),
    ("serialize the endpoint's return value and validate it against the response model",
     [("routing.py", "serialize_response")]),
    ("group path operations under a common prefix and tags", [("routing.py", "APIRouter")]),
    ("fail with a clear message when python-multipart is not installed",
     [("dependencies/utils.py", "ensure_multipart_is_installed")]),
    ("serve the Swagger UI documentation page", [("openapi/docs.py", "get_swagger_ui_html")]),
    ("OpenID Connect discovery URL security scheme", [("security/open_id_connect_url.py", "OpenIdConnect")]),
]
EXACT_QUERIES = ["jsonable_encoder", "def solve_dependencies", "class APIRouter", r"status_code\s*=\s*422"]


def definition_lines(root: Path) -> dict[tuple[str, str], int]:
    lines = {}
    for path, _ in {(f, None) for _, targets in LABELLED for f, _s in targets}:
        tree = ast.parse((root / path).read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                lines.setdefault((path, node.name), node.lineno)
    return lines


def found(hits, targets, lines) -> bool:
    for hit in hits[:5]:
        for path, symbol in targets:
            line = lines[(path, symbol)]
            if hit.path == path and hit.start_line <= line <= hit.end_line:
                return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--package", default="fastapi")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    root = Path(importlib.import_module(args.package).__file__).parent
    lines = definition_lines(root)
    with tempfile.TemporaryDirectory() as tmp:
        search = CodebaseSearch(Workspace(root), index_path=Path(tmp) / "index.sqlite")
        started = time.perf_counter()
        cold = search.index.refresh()
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        search.index.refresh()
        warm_s = time.perf_counter() - started
        rows = []
        for mode in ("semantic", "hybrid"):
            times, hits_at_5 = [], 0
            search.run(CodebaseSearchArgs(query="warm up", mode=mode))
            for query, targets in LABELLED:
                t = time.perf_counter()
                result = search.run(CodebaseSearchArgs(query=query, mode=mode))
                times.append((time.perf_counter() - t) * 1e3)
                hits_at_5 += found(result.hits, targets, lines)
            rows.append((mode, statistics.median(times), f"{hits_at_5}/{len(LABELLED)} = {hits_at_5 / len(LABELLED):.2f}"))
        times = []
        for query in EXACT_QUERIES * 3:
            t = time.perf_counter()
            assert search.run(CodebaseSearchArgs(query=query, mode="exact")).hits, query
            times.append((time.perf_counter() - t) * 1e3)
        rows.append((f"exact ({'ripgrep' if search.rg else 'python'})", statistics.median(times), "n/a (symbol queries)"))
    chunks = cold["chunks_embedded"]
    table = [
        f"### codebase_search on `{args.package}` ({cold['files']} files, {chunks} chunks embedded)",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, {platform.processor() or platform.machine()}; "
        f"load average {os.getloadavg()[0]:.1f}; {datetime.date.today().isoformat()}",
        "",
        f"- cold index: {cold_s:.1f} s ({chunks / cold_s:.1f} chunks/s, numpy MiniLM, 128 tokens)",
        f"- warm refresh (nothing changed): {warm_s * 1e3:.0f} ms",
        "",
        "| mode | query p50 (ms) | recall@5 |",
        "|---|---|---|",
        *[f"| {mode} | {p50:.1f} | {recall} |" for mode, p50, recall in rows],
        "",
    ]
    text = "\n".join(table)
    print(text)
    if args.out:
        with args.out.open("a") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
