"""The file_manager operation a path's own shape settles.

A path that ends in `/` is a folder: it can be listed, not read. A path whose last part has a file
extension people use (`rds.tf`, `radiation.f90`) is a file: it can be read, not listed. The 135M model
picks `list` for "check infra/terraform/rds.tf" and `read` for "what's inside app/components/checkout/"
(held-out sets E-AB: 15 such calls, each the other operation in its gold). A bare name (`Makefile`,
`src/app`) or a folder with a dot in its name (`src/Underwriting.Api`) settles nothing. Of the 2,700 gold
file_manager calls of the data, no `list` names a file with such an extension and no `read` a path that
ends in `/`.
"""

from __future__ import annotations

FILE_EXTENSIONS = frozenset("""
py pyi ipynb ts tsx js jsx mjs cjs go kt kts rs rb erb rake cs cshtml razor csproj sln cpp cc cxx hpp hh h c m mm
swift java scala sc clj cljs cljc edn ex exs heex erl hrl jl lua nim zig dart php sql sh bash zsh fish ps1 bat
tf tfvars hcl yml yaml json jsonc toml ini cfg conf env lock xml html htm css scss sass less vue svelte md mdx rst
txt csv tsv proto graphql gql r rmd f f90 f95 for cob cbl cpy jcl hs lhs ml mli fs fsx fsi elm sol vy gradle
properties vb pl pm tcl groovy mk cmake bzl nix el vim asm ld svg png jpg gif log pem crt service tex bib adoc
plist xib storyboard gemspec podspec jinja j2 tmpl tpl mustache hbs gd tscn cfm
""".split())
"""Extensions that mark a path's last part as a file (not a folder with a dot in its name)."""


def operation_for_path(operation: str, path: str) -> str | None:
    """The operation `path`'s shape calls for when `operation` cannot apply to it: `read` for a `list` of a
    file, `list` for a `read` of a folder; None when the operation fits or the shape settles nothing."""
    name = path.rsplit("/", 1)[-1]
    if operation == "list" and "." in name and name.rsplit(".", 1)[-1].lower() in FILE_EXTENSIONS:
        return "read"
    if operation == "read" and path.endswith("/"):
        return "list"
    return None
