"""The package's import graph: no circles, and the study pipeline is a layer of its own."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "benchbox"


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _target(name: str, mods: dict[str, Path]) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _imports(tree: ast.AST, mods: dict[str, Path]) -> set[str]:
    """benchbox modules imported anywhere in ``tree`` (lazy imports too), minus TYPE_CHECKING blocks."""
    found, skip = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {_target(a.name, mods) for a in node.names if a.name.startswith("benchbox")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("benchbox"):
            found |= {_target(f"{node.module}.{a.name}", mods) for a in node.names}
    return found - {None}


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(ast.parse(p.read_text()), mods) - {m} for m, p in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_planted_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles():
    assert cycles(import_graph()) == []


def test_only_the_cli_uses_the_study_layer():
    users = {m for m, deps in import_graph().items() if any(d.startswith("benchbox.study") for d in deps)}
    assert {u for u in users if not u.startswith(("benchbox.study", "benchbox.cli"))} == set()


def test_make_bench_runs_a_script_that_exists():
    """`make bench` ran benchmarks/run_all.py, which never existed."""
    import re
    import subprocess
    import sys

    target = re.search(r"^bench:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    scripts = re.findall(r"(benchmarks/\S+\.py)", target)
    assert scripts and all((ROOT / s).is_file() for s in scripts)
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--dry-run", "--full"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    listed = re.findall(r"(bench_\w+\.py)", done.stdout)
    assert listed and all((ROOT / "benchmarks" / s).is_file() for s in listed)
