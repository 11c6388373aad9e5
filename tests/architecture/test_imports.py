"""The layers import one way: tasks → engine → models → k5. No cycle between modules of
`imaging/`, no project import hidden inside a function (unless a comment says why), and
above the engine nobody catches the facade's exceptions."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "imaging"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imported(node: ast.AST, module: str) -> list[str]:
    """The project modules an import statement names (`from imaging import x` → imaging.x
    when x is a module, else imaging)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "imaging"]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        if node.module.split(".")[0] != "imaging":
            return []
        names = [f"{node.module}.{alias.name}" for alias in node.names]
        return [name for name in names if name in MODULES] or [node.module]
    return []


def _top_level_imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` imports cost nothing at run time
            continue
        for name in _imported(node, module):
            while name not in MODULES and "." in name:
                name = name.rpartition(".")[0]
            if name != module:
                found.add(name)
    return found


def test_no_import_cycle_between_modules_of_imaging():
    graph = {name: _top_level_imports(path, name) for name, path in MODULES.items()}
    cycles = []
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph.get(name, ())):
            if state.get(target) == "open":
                cycles.append(" → ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_no_project_import_hides_inside_a_function_without_a_reason():
    hidden = []
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if not _imported(inner, name):
                    continue
                above = lines[inner.lineno - 2].strip()
                if not above.startswith("#"):
                    hidden.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert hidden == []


ABOVE_THE_ENGINE = ("imaging.web", "imaging.api", "imaging.views", "imaging.management")
# seed_demo asks the simulator's identity service for the demo projects' ids before any
# project exists in the portal: there is no engine to go through yet.
BELOW_THE_ENGINE_ON_PURPOSE = {"imaging.management.commands.seed_demo"}


def test_pages_api_and_commands_never_catch_the_facades_exceptions():
    """They catch the engine's Refusal and K5Unavailable; `imaging.k5` errors stay below."""
    leaks = []
    for name, path in MODULES.items():
        if not name.startswith(ABOVE_THE_ENGINE) or name in BELOW_THE_ENGINE_ON_PURPOSE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("imaging.k5"):
                leaks += [f"{name}: {alias.name}" for alias in node.names if "Error" in alias.name]
    assert leaks == []


@pytest.mark.parametrize("first", ["imaging.models", "imaging.tasks", "imaging.engine.polling"])
def test_a_fresh_process_can_import_any_layer_first(first):
    code = f"import django; django.setup(); import {first}"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"DJANGO_SETTINGS_MODULE": "portal.settings", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
