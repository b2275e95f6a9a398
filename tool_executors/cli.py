"""`router tools ...`: try each executor by hand on a workspace (ROUTER_WORKSPACE or --workspace)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(no_args_is_help=True, help="Run the four tools by hand: search, read, list, write, patch, exec, ask.")

Workspace = typer.Option(None, "--workspace", "-w", help="Workspace root (default: ROUTER_WORKSPACE or .).")
AsJson = typer.Option(False, "--json", help="Print the whole result object as JSON.")


def _run(tool_name: str, arguments: dict, workspace: Optional[Path], as_json: bool) -> None:
    from tool_executors import Tools, ToolsConfig

    config = ToolsConfig(workspace=workspace) if workspace else ToolsConfig()
    result = Tools(config).execute({"tool_name": tool_name, "arguments": arguments})
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        if result.output:
            typer.echo(result.output)
        warning = getattr(result, "isolation_warning", None)
        if warning:
            typer.secho(f"WARNING: {warning}", fg="yellow", err=True)
    if not result.ok:
        typer.secho(f"error: {result.error}", fg="red", err=True)
        raise typer.Exit(1)


@app.command()
def search(query: str, mode: str = typer.Option("hybrid", help="exact | semantic | hybrid"),
           pattern: Optional[str] = typer.Option(None, "--glob", "-g", help="file_pattern glob, e.g. '*.py'"),
           workspace: Optional[Path] = Workspace, as_json: bool = AsJson) -> None:
    """codebase_search."""
    arguments = {"query": query, "mode": mode} | ({"file_pattern": pattern} if pattern else {})
    _run("codebase_search", arguments, workspace, as_json)


@app.command()
def index(workspace: Optional[Path] = Workspace) -> None:
    """Build or refresh the semantic search index now (search does it incrementally anyway)."""
    from tool_executors import Tools, ToolsConfig

    tools = Tools(ToolsConfig(workspace=workspace) if workspace else ToolsConfig())
    typer.echo(json.dumps(tools.search.index.refresh()))


@app.command("list")
def list_(path: str = typer.Argument("."), workspace: Optional[Path] = Workspace, as_json: bool = AsJson) -> None:
    """file_manager list."""
    _run("file_manager", {"operation": "list", "path": path}, workspace, as_json)


@app.command()
def read(path: str, workspace: Optional[Path] = Workspace, as_json: bool = AsJson) -> None:
    """file_manager read."""
    _run("file_manager", {"operation": "read", "path": path}, workspace, as_json)


@app.command()
def write(path: str, content: str, workspace: Optional[Path] = Workspace, as_json: bool = AsJson) -> None:
    """file_manager write (atomic)."""
    _run("file_manager", {"operation": "write", "path": path, "content": content}, workspace, as_json)


@app.command()
def patch(path: str, target: str, replacement: str, workspace: Optional[Path] = Workspace,
          as_json: bool = AsJson) -> None:
    """file_manager patch: TARGET must occur exactly once."""
    arguments = {"operation": "patch", "path": path, "target_string": target, "replacement_string": replacement}
    _run("file_manager", arguments, workspace, as_json)


@app.command("exec")
def exec_(code: str = typer.Argument(..., help="Python code, or - to read it from stdin"),
          timeout: int = typer.Option(30, min=1, max=30), as_json: bool = AsJson) -> None:
    """sandbox_exec."""
    if code == "-":
        code = typer.get_text_stream("stdin").read()
    _run("sandbox_exec", {"code": code, "timeout": timeout}, None, as_json)


@app.command()
def ask(question: str, context: Optional[str] = None, as_json: bool = AsJson) -> None:
    """ask_human: store a question (ROUTER_QUESTIONS_DB)."""
    _run("ask_human", {"question": question} | ({"context": context} if context else {}), None, as_json)


@app.command()
def questions(all_: bool = typer.Option(False, "--all", help="Answered ones too.")) -> None:
    """List pending questions."""
    from tool_executors import Tools

    for q in Tools().questions.list(status=None if all_ else "pending"):
        typer.echo(f"{q.id}  [{q.status}]  {q.question}" + (f"  -> {q.answer}" if q.answer else ""))


@app.command()
def answer(question_id: str, text: str) -> None:
    """Answer a pending question."""
    from tool_executors import Tools
    from tool_executors.ask_human import QuestionError

    try:
        Tools().questions.answer(question_id, text)
    except QuestionError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"answered {question_id}")


@app.command()
def status() -> None:
    """The sandbox's isolation level (warns when bubblewrap is missing)."""
    from tool_executors import Tools

    typer.echo(json.dumps(Tools().status(), indent=2))
