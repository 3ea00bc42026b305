"""The packages' imports, read from the source: the core never reaches up, study/ reaches the
analysis layer only to write the report, and no two modules import each other."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gan", "study", "analysis")


def _paths() -> dict[str, Path]:
    paths = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            paths[module.removesuffix(".__init__")] = path
    return paths


def _imports() -> dict[str, set[str]]:
    """module -> the project modules it imports (at any depth of the file); ``from pkg import
    sub`` imports the submodule ``pkg.sub``, not the package's ``__init__``."""
    known = set(_paths())
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            module = module.removesuffix(".__init__")
            names = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    subs = {f"{node.module}.{a.name}" for a in node.names}
                    names.update(subs & known or {node.module})
                    names.update(subs - known if not subs & known else set())
                elif isinstance(node, ast.Import):
                    names.update(a.name for a in node.names)
            found[module] = {n for n in names if n.split(".")[0] in PACKAGES}
    return found


def _modules(names: set[str], known: set[str]) -> set[str]:
    return {n for n in names if n in known}


def test_gan_imports_neither_study_nor_analysis():
    bad = {m: sorted(n for n in names if n.split(".")[0] != "gan")
           for m, names in _imports().items() if m.startswith("gan")}
    assert {m: v for m, v in bad.items() if v} == {}


def test_study_uses_analysis_only_for_the_report():
    uses = {m: sorted(n for n in names if n.startswith("analysis"))
            for m, names in _imports().items() if m.startswith("study")}
    assert {m: v for m, v in uses.items() if v} == {"study.cli": ["analysis.report",
                                                                 "analysis.report.build_report"]}


def test_no_import_circle():
    graph = _imports()
    known = set(graph)
    edges = {m: _modules(names, known) - {m} for m, names in graph.items()}
    seen: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        seen[module] = 1
        for nxt in sorted(edges.get(module, ())):
            if seen.get(nxt) == 1:
                return path + [nxt]
            if nxt not in seen:
                cycle = visit(nxt, path + [nxt])
                if cycle:
                    return cycle
        seen[module] = 2
        return None

    for module in sorted(edges):
        if module not in seen:
            cycle = visit(module, [module])
            assert cycle is None, " -> ".join(cycle)


def test_no_private_ray_or_optuna_attribute_in_the_project():
    """Attribute access on Ray's or Optuna's objects only through public names: no private
    member of OptunaSearch, no internal Tune logger (a Ray upgrade would break them silently)."""
    private = ("_ot_trials", "_ot_study", "_completed_trials", "tune_controller")
    for module, path in _paths().items():
        text = path.read_text()
        assert not [name for name in private if name in text], module


# The core's rooms (gan/models, gan/train, gan/metrics, gan/census, gan/records, gan/bench) and
# the few modules every room shares, directly in gan/.
SHARED_IN_GAN = {"__init__.py", "version.py", "config.py", "cli_common.py", "data.py"}


def test_gan_is_in_rooms_each_saying_what_it_is_without_re_exports():
    gan = ROOT / "gan"
    assert {p.name for p in gan.glob("*.py")} <= SHARED_IN_GAN
    rooms = sorted(p for p in gan.iterdir() if p.is_dir() and (p / "__init__.py").is_file())
    assert [r.name for r in rooms] == ["bench", "census", "metrics", "models", "records", "train"]
    for room in rooms:
        tree = ast.parse((room / "__init__.py").read_text())
        doc = ast.get_docstring(tree)
        assert doc and "\n" not in doc.strip(), f"{room.name}: a one-line docstring"
        assert len(tree.body) == 1, f"{room.name}/__init__.py re-exports or runs code"


def test_nothing_imports_through_gan_init():
    """``from gan import x`` would reach a room through gan/__init__.py: every import names
    the room (only the package version is gan's own)."""
    through = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module == "gan" and node.level == 0:
                    names = [a.name for a in node.names if a.name != "__version__"]
                    if names:
                        through[str(path.relative_to(ROOT))] = names
    assert through == {}
