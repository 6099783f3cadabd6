"""Package structure rules (spec style.md §7): only pysoc.models imports the compiled
kernels; nothing imports the CLIs; plots are imported only by CLIs/plots; the sampler does
not import models."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "pysoc"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def modules():
    for p in PKG.rglob("*.py"):
        yield p.relative_to(PKG.parent).with_suffix("").as_posix().replace("/", "."), p


def test_only_models_import_kernels():
    for name, path in modules():
        if name.startswith("pysoc.models") or name.startswith("pysoc._kernels"):
            continue
        bad = [m for m in imports_of(path) if m.startswith("pysoc._kernels")]
        assert not bad, f"{name} imports {bad}"


def test_nothing_imports_cli_and_plots_only_from_cli():
    for name, path in modules():
        imps = imports_of(path)
        if not name.startswith("pysoc.cli"):
            assert not [m for m in imps if m.startswith("pysoc.cli")], name
        if not (name.startswith("pysoc.cli") or name.startswith("pysoc.plots")):
            assert not [m for m in imps if m.startswith("pysoc.plots")], name


def test_sampler_is_model_agnostic():
    p = PKG / "da" / "sampler.py"
    if p.exists():
        assert not [m for m in imports_of(p) if m.startswith("pysoc.models")]
