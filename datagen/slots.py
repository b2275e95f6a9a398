"""Realistic slot values: identifiers, paths and globs in each language's own conventions."""

from __future__ import annotations

import random
from dataclasses import dataclass

from datagen.domains import Domain


def camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def lower_camel(snake: str) -> str:
    c = camel(snake)
    return c[0].lower() + c[1:]


def plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


@dataclass(frozen=True)
class Lang:
    name: str
    """How people call it in a request ("Go", "TypeScript")."""
    ext: str
    naming: str
    """snake | camel: how functions are spelled."""
    paths: tuple[str, ...]
    """Path templates: {svc} {entity} {Entity} {entities} {kind}."""
    glob_phrases: tuple[tuple[str, str], ...]
    """(how a user scopes a search, the glob it means)."""


_PY_KINDS = ("service", "repository", "models", "handlers", "utils", "tasks", "client", "schemas", "views")
LANGS: dict[str, Lang] = {
    "python": Lang("Python", "py", "snake",
                   ("src/{svc}/{entity}_{kind}.py", "app/{svc}/{kind}.py", "{svc}/{entities}.py",
                    "services/{svc}/{svc}/{entity}.py", "tests/test_{entity}_{kind}.py", "lib/{svc}/{kind}.py"),
                   (("in the Python files", "*.py"), ("only in the tests", "tests/**"),
                    ("in the python tests", "tests/**/test_*.py"), ("under src/", "src/**"))),
    "typescript": Lang("TypeScript", "ts", "camel",
                       ("src/{svc}/{entity}.ts", "src/components/{Entity}Card.tsx", "src/hooks/use{Entity}.ts",
                        "packages/{svc}/src/{entity}.service.ts", "apps/web/src/features/{entity}/api.ts",
                        "src/{svc}/__tests__/{entity}.test.ts"),
                       (("in the .ts files", "**/*.ts"), ("in the React components", "**/*.tsx"),
                        ("only in the test files", "**/*.test.ts"), ("under packages/", "packages/**"))),
    "javascript": Lang("JavaScript", "js", "camel",
                       ("src/{svc}/{entity}.js", "lib/{entity}.js", "public/js/{entity}.js",
                        "server/routes/{entities}.js", "src/components/{Entity}.jsx"),
                       (("in the js files", "**/*.js"), ("in the server code", "server/**"),
                        ("in the JSX components", "**/*.jsx"))),
    "go": Lang("Go", "go", "camel",
               ("internal/{entity}/{kind}.go", "pkg/{svc}/{entity}.go", "cmd/{svc}/main.go",
                "internal/{svc}/{entity}_handler.go", "internal/{entity}/{kind}_test.go"),
               (("in the Go tests", "**/*_test.go"), ("only in internal/", "internal/**"),
                ("in the go code", "**/*.go"))),
    "java": Lang("Java", "java", "camel",
                 ("src/main/java/com/acme/{svc}/{Entity}Service.java",
                  "src/main/java/com/acme/{svc}/{Entity}Controller.java",
                  "src/test/java/com/acme/{svc}/{Entity}ServiceTest.java",
                  "{svc}-core/src/main/java/io/{svc}/{Entity}Repository.java"),
                 (("in the Java sources", "src/main/java/**/*.java"), ("in the unit tests", "src/test/**"),
                  ("in *.java files", "*.java"))),
    "kotlin": Lang("Kotlin", "kt", "camel",
                   ("app/src/main/java/com/acme/{svc}/{Entity}ViewModel.kt",
                    "app/src/main/java/com/acme/{svc}/{Entity}Repository.kt",
                    "core/src/main/kotlin/{svc}/{Entity}Dao.kt"),
                   (("in the Kotlin files", "**/*.kt"), ("in the app module", "app/**"))),
    "swift": Lang("Swift", "swift", "camel",
                  ("Sources/{Svc}/{Entity}View.swift", "Sources/{Svc}/{Entity}Store.swift",
                   "{Svc}/Features/{Entity}/{Entity}ViewModel.swift", "Tests/{Svc}Tests/{Entity}Tests.swift"),
                  (("in the Swift files", "**/*.swift"), ("in the tests target", "Tests/**"))),
    "rust": Lang("Rust", "rs", "snake",
                 ("src/{entity}.rs", "src/{svc}/mod.rs", "crates/{svc}/src/{entity}.rs", "src/bin/{svc}.rs"),
                 (("in the Rust code", "**/*.rs"), ("under crates/", "crates/**"))),
    "ruby": Lang("Ruby", "rb", "snake",
                 ("app/models/{entity}.rb", "app/controllers/{entities}_controller.rb",
                  "app/services/{entity}_{kind}.rb", "spec/models/{entity}_spec.rb", "lib/{svc}/{entity}.rb"),
                 (("in the models", "app/models/*.rb"), ("in the specs", "spec/**/*_spec.rb"),
                  ("in the ruby files", "**/*.rb"))),
    "php": Lang("PHP", "php", "camel",
                ("src/{Svc}/{Entity}Controller.php", "app/Models/{Entity}.php", "wp-content/plugins/{svc}/{entity}.php"),
                (("in the php files", "**/*.php"), ("in app/Models", "app/Models/**"))),
    "csharp": Lang("C#", "cs", "camel",
                   ("Assets/Scripts/{Entity}Controller.cs", "src/{Svc}/{Entity}Service.cs",
                    "src/{Svc}.Tests/{Entity}Tests.cs"),
                   (("in the C# scripts", "**/*.cs"), ("under Assets/Scripts", "Assets/Scripts/**"))),
    "cpp": Lang("C++", "cpp", "camel",
                ("src/{entity}.cpp", "include/{svc}/{entity}.hpp", "src/{svc}/{Entity}.cpp", "tests/{entity}_test.cpp"),
                (("in the headers", "**/*.hpp"), ("in the .cpp files", "**/*.cpp"), ("under src/", "src/**"))),
    "c": Lang("C", "c", "snake",
              ("src/{entity}.c", "include/{entity}.h", "drivers/{svc}/{entity}.c", "src/hal/{entity}_hal.c"),
              (("in the C sources", "**/*.c"), ("in the headers", "**/*.h"), ("in drivers/", "drivers/**"))),
    "sql": Lang("SQL", "sql", "snake",
                ("migrations/0042_add_{entity}_index.sql", "db/queries/{entities}.sql", "models/staging/stg_{entities}.sql",
                 "sql/reports/{entity}_daily.sql"),
                (("in the migrations", "migrations/*.sql"), ("in the dbt models", "models/**/*.sql"),
                 ("in the sql files", "**/*.sql"))),
    "yaml": Lang("YAML", "yaml", "snake",
                 (".github/workflows/{svc}.yml", "deploy/helm/{svc}/values.yaml", "k8s/{svc}/deployment.yaml",
                  "config/{svc}.yaml", ".gitlab-ci.yml", "docker-compose.yml"),
                 (("in the workflow files", ".github/workflows/*.yml"), ("in the helm charts", "deploy/helm/**"),
                  ("in the yaml configs", "**/*.{yml,yaml}"))),
    "shell": Lang("shell", "sh", "snake",
                  ("scripts/{svc}.sh", "scripts/deploy_{svc}.sh", "bin/{entity}-sync", "ci/{kind}.sh"),
                  (("in the shell scripts", "**/*.sh"), ("in scripts/", "scripts/**"))),
    "hcl": Lang("Terraform", "tf", "snake",
                ("terraform/modules/{svc}/main.tf", "terraform/envs/staging/{svc}.tf", "infra/{entity}.tf",
                 "terraform/modules/{svc}/variables.tf"),
                (("in the terraform modules", "terraform/modules/**"), ("in the .tf files", "**/*.tf"))),
    "elixir": Lang("Elixir", "ex", "snake",
                   ("lib/{svc}/{entity}.ex", "lib/{svc}_web/channels/{entity}_channel.ex", "test/{svc}/{entity}_test.exs"),
                   (("in the elixir code", "lib/**/*.ex"), ("in the tests", "test/**"))),
    "scala": Lang("Scala", "scala", "camel",
                  ("src/main/scala/{svc}/{Entity}Job.scala", "src/main/scala/{svc}/{Entity}Model.scala"),
                  (("in the scala sources", "**/*.scala"),)),
    "julia": Lang("Julia", "jl", "snake",
                  ("src/{entity}.jl", "src/{Svc}.jl", "test/{entity}_tests.jl"),
                  (("in the julia files", "**/*.jl"),)),
    "r": Lang("R", "R", "snake",
              ("R/{entity}.R", "scripts/{entity}_analysis.R", "tests/testthat/test-{entity}.R"),
              (("in the R scripts", "**/*.R"),)),
}

CLASS_SUFFIXES = ("Service", "Repository", "Manager", "Client", "Handler", "Validator", "Factory",
                  "Controller", "Store", "Serializer", "Worker", "Builder", "Resolver", "Provider", "Cache")
VERBS = ("get", "fetch", "load", "create", "update", "delete", "validate", "sync", "parse", "build",
         "compute", "apply", "resolve", "normalize", "render", "dispatch", "find", "reconcile", "refresh",
         "serialize", "enqueue", "archive", "merge", "export")
QUALIFIERS = ("by_id", "for_user", "async", "batch", "from_cache", "if_missing", "with_retry", "v2",
              "totals", "status", "payload", "events", "all", "in_place", "", "", "", "")

# Files that live at fixed, well-known places in many repositories.
WELL_KNOWN = ("README.md", "Dockerfile", "docker-compose.yml", "Makefile", "pyproject.toml", "package.json",
              "go.mod", "Cargo.toml", ".gitignore", ".env.example", "tsconfig.json", "setup.cfg",
              ".pre-commit-config.yaml", "CHANGELOG.md", "docs/architecture.md", "docs/runbook.md",
              ".github/CODEOWNERS", "requirements.txt", "config/settings.toml", "alembic.ini", "nginx/nginx.conf")


def pick_lang(rng: random.Random, domain: Domain) -> Lang:
    return LANGS[rng.choice(domain.langs)]


def symbol(rng: random.Random, domain: Domain, lang: Lang, kind: str | None = None) -> str:
    """A class, function or constant name in the language's convention."""
    entity = rng.choice(domain.entities)
    kind = kind or rng.choice(("class", "class", "func", "func", "func", "const"))
    if kind == "class":
        return camel(entity) + rng.choice(CLASS_SUFFIXES)
    if kind == "const":
        return rng.choice(("MAX_", "DEFAULT_", "", "")) + entity.upper() + rng.choice(
            ("_TIMEOUT", "_LIMIT", "_TTL", "_RETRIES", "_BATCH_SIZE", "_PREFIX"))
    verb, qual = rng.choice(VERBS), rng.choice(QUALIFIERS)
    ent = rng.choice((entity, plural(entity)))
    snake = "_".join(p for p in (verb, ent, qual) if p)
    if lang.naming == "camel":
        name = lower_camel(snake)
        return camel(snake) if lang.name == "Go" and rng.random() < 0.5 else name
    return snake


def path(rng: random.Random, domain: Domain, lang: Lang) -> str:
    entity = rng.choice(domain.entities)
    svc = rng.choice(domain.services).lower()
    kind = rng.choice(_PY_KINDS)
    return rng.choice(lang.paths).format(
        svc=svc, Svc=camel(svc), entity=entity, Entity=camel(entity), entities=plural(entity), kind=kind)


def directory(rng: random.Random, domain: Domain, lang: Lang) -> str:
    """A directory that plausibly exists: the parent of a generated path, with a trailing slash sometimes."""
    p = path(rng, domain, lang)
    parent = p.rsplit("/", 1)[0] if "/" in p else rng.choice(("src", "docs", "scripts"))
    return parent + ("/" if rng.random() < 0.4 else "")
