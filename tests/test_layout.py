"""The package's architecture: stages as subpackages whose imports run one way, no import cycle,
no module past about 800 lines, every subpackage saying what it holds and what it may import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "utils"

# What each stage may import (besides itself and the standard library / third parties).
ALLOWED = {
    "core": set(),
    "data": {"core"},
    "models": {"core", "data"},
    "evaluation": {"core", "data", "models"},
    "explain": {"core", "data", "models", "evaluation"},
    "labels": {"core", "data", "models", "evaluation"},
    "report": {"core", "data", "models", "evaluation", "explain", "labels"},
}
ENTRY_POINTS = {"predict", "bench"}  # may import every stage; no stage imports them
MAX_LINES = 800


def _modules() -> dict[str, Path]:
    """``{dotted name: path}`` of every module of ``utils`` (packages by their ``__init__``)."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports_of(name: str, path: Path) -> set[str]:
    """The ``utils`` modules that module ``name`` imports, anywhere in it (functions included),
    except under ``if TYPE_CHECKING:`` (annotations only, never executed)."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for t in ast.walk(tree) if _type_checking(t) for n in ast.walk(t)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "utils"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "utils":
                continue
            for alias in node.names:  # ``from pkg import module`` imports the module
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_module_belongs_to_a_stage_or_an_entry_point() -> None:
    stray = [m for m in MODULES if m != "utils" and _stage(m) not in {*ALLOWED, *ENTRY_POINTS}]
    assert not stray, f"modules outside the stages {sorted(ALLOWED)}: {stray}"


def test_imports_run_one_way() -> None:
    """core -> data -> models -> evaluation -> explain -> report; entry points above them all."""
    wrong = []
    for module, targets in GRAPH.items():
        stage = _stage(module)
        if stage is None or stage in ENTRY_POINTS:
            continue
        for target in targets:
            other = _stage(target)
            if other != stage and other not in ALLOWED[stage]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports against the stages' order: " + "; ".join(sorted(wrong))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph`` larger than one module: the cycles."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle() -> None:
    assert not cycles(GRAPH), f"import cycles: {cycles(GRAPH)}"


def test_the_walk_sees_relative_imports_and_a_planted_cycle() -> None:
    assert "utils.models.candidates" in GRAPH["utils.models.panel"]
    assert "utils.core.paths" in GRAPH["utils.data.catalog"]
    planted = {
        **GRAPH,
        "utils.models.candidates": GRAPH["utils.models.candidates"] | {"utils.models.panel"},
    }
    assert ["utils.models.candidates", "utils.models.panel"] in cycles(planted)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_past_the_size_limit(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module}: {lines} lines; split it along its seams"


@pytest.mark.parametrize("package", sorted({*ALLOWED, *ENTRY_POINTS} - {"predict"}))
def test_every_subpackage_says_what_it_holds(package: str) -> None:
    doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text()))
    assert doc and len(doc.splitlines()) >= 2, f"utils/{package}/__init__.py needs its docstring"
    if package in ALLOWED:
        allowed = ALLOWED[package]
        said = "Imports nothing else" in doc or all(f"``{a}``" in doc for a in allowed)
        assert said, f"utils/{package}/__init__.py should say what it may import: {allowed}"


# --------------------------------------------------------------------------- the notebooks' cells
NOTEBOOKS = sorted((ROOT.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_ARGUMENTS = 6


def _calls(source: str):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            yield node


def crowded_calls(source: str) -> list[str]:
    """Calls of a cell with more than ``MAX_ARGUMENTS`` arguments, and ``globals()`` passed to
    anything but ``notebook.start``."""
    out = []
    for call in _calls(source):
        name = ast.unparse(call.func)
        if len(call.args) + len(call.keywords) > MAX_ARGUMENTS:
            out.append(f"{name}(...) takes {len(call.args) + len(call.keywords)} arguments")
        passes_globals = any(
            isinstance(a, ast.Call) and ast.unparse(a.func) == "globals"
            for a in [*call.args, *(k.value for k in call.keywords)]
        )
        if passes_globals and name != "notebook.start":
            out.append(f"{name}(globals())")
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_cells_hand_studies_few_arguments_and_no_globals(path: Path) -> None:
    """A cell calls ``utils`` with a handful of arguments; studies keep their own results, and
    read their knobs from ``nb.params`` instead of ``globals()``."""
    import json

    cells = json.loads(path.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    problems = [p for source in code for p in crowded_calls(source)]
    assert not problems, f"{path.name}: {problems}"


def test_the_cell_check_sees_a_crowded_call() -> None:
    assert crowded_calls("f(1, 2, 3, 4, 5, 6, 7)") == ["f(...) takes 7 arguments"]
    assert crowded_calls("x = summary(a, globals())") == ["summary(globals())"]
    assert crowded_calls('nb = notebook.start("01", globals())') == []
