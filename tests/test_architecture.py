"""Who may import whom, read from the source: every import statement, function-level ones
included, since a cycle hidden in a function body is still a cycle.

- ``core`` is shared by both services and imports neither of them.
- ``modelsvc`` and ``webapp`` are separate services: neither imports the other.
- ``bench`` measures the model service from outside: it imports no ``webapp``.
- No shipped code (core, modelsvc, webapp, bench) imports ``tests``.
- Inside the web app, ``experiments`` is the hub the feature apps (``reviews``, ``batch``,
  ``canary``) build on; it imports none of them. Feature apps are peers that import each
  other only along ``FEATURE_IMPORTS`` (today: not at all).
- The site-wide modules of ``webapp`` (everything outside the four apps) import no
  feature app, except settings and URLs, which wire the apps together.
- No import cycles between modules.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "modelsvc", "webapp", "bench")
FEATURES = ("webapp.reviews", "webapp.batch", "webapp.canary")
# Feature app -> the other feature apps it may import.
FEATURE_IMPORTS: dict[str, set[str]] = {
    "webapp.reviews": set(),
    "webapp.batch": set(),
    "webapp.canary": set(),
}
# The modules that wire the apps together and so name them all.
WIRING = {"webapp.settings", "webapp.urls"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            # Hidden folders hold tools' own environments (bench/.mlserver-venv), not code.
            if not any(part.startswith(".") for part in path.relative_to(ROOT).parts):
                files[module_name(path)] = path
    return files


MODULES = source_files()


def imported_names(module: str, path: Path) -> Iterator[str]:
    """Every dotted name ``module`` imports, anywhere in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                # ``from package import module`` imports the module; anything else, the base.
                yield submodule if submodule in MODULES else base


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def target(name: str) -> str | None:
    """The project module an imported name loads, None for a third-party one."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


IMPORTS = {module: sorted(set(imported_names(module, path))) for module, path in MODULES.items()}


def violations(importers: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{module} imports {name}"
        for module, names in IMPORTS.items()
        if within(module, importers)
        for name in names
        if any(within(name, package) for package in forbidden)
    ]


@pytest.mark.parametrize(
    ("importers", "forbidden"),
    [
        ("core", ("webapp", "modelsvc", "bench", "tests")),
        ("modelsvc", ("webapp", "bench", "tests")),
        ("webapp", ("modelsvc", "bench", "tests")),
        ("bench", ("webapp", "tests")),
        ("webapp.experiments", FEATURES),
    ],
)
def test_layers(importers, forbidden):
    assert violations(importers, forbidden) == []


@pytest.mark.parametrize("feature", FEATURES)
def test_feature_apps_import_each_other_only_where_allowed(feature):
    others = tuple(f for f in FEATURES if f != feature and f not in FEATURE_IMPORTS[feature])
    assert violations(feature, others) == []


def test_site_wide_modules_import_no_feature_app():
    site_wide = [
        module
        for module in MODULES
        if within(module, "webapp")
        and module not in WIRING
        and not any(within(module, app) for app in (*FEATURES, "webapp.experiments"))
    ]
    assert site_wide  # the rule below must look at something
    found = [
        f"{module} imports {name}"
        for module in site_wide
        for name in IMPORTS[module]
        if any(within(name, feature) for feature in FEATURES)
    ]
    assert found == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), and modules
    importing themselves."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_graph() -> dict[str, set[str]]:
    return {
        module: {t for name in names if (t := target(name)) is not None and t != module}
        for module, names in IMPORTS.items()
    }


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_the_checks_see_function_level_and_relative_imports(tmp_path):
    path = tmp_path / "services.py"
    path.write_text(
        "from django.db import transaction\n"
        "from . import models\n"
        "def enqueue():\n"
        "    from webapp.batch.tasks import process_job\n"
    )
    names = set(imported_names("webapp.batch.services", path))
    assert names == {"django.db", "webapp.batch.models", "webapp.batch.tasks"}
    assert target("webapp.batch.tasks") == "webapp.batch.tasks"
    assert target("django.db") is None


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
