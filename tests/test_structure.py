"""Package structure rules (spec style.md §7; issue 16). Read from the source with ``ast``:

- only ``pysoc.models`` imports the compiled kernels (``pysoc._kernels``);
- the dependency direction core <- models <- da <- proda / upscale <- cli, with
  core = ``pysoc.{errors,params,forcing,profiles,columns,_status}`` and ``pysoc.io``;
  proda and upscale do not import each other; ``pysoc.plots`` sits between them and the
  CLIs; nothing imports ``pysoc.cli`` or the data-building scripts of ``pysoc/data``;
- plots (``pysoc.plots``, ``pysoc.<pkg>.plots``) are imported only by the CLIs (and by other
  plot modules);
- no import cycles in the module graph (imports inside functions included: a lazy import
  hides a cycle, it does not remove it);
- no model names outside ``pysoc/models``: no string constant (docstrings excepted) equal to
  a registry name, no import of a model's own module (``pysoc.models.clm5`` ...): code asks
  the model object (its declarations and capabilities) instead;
- no private (``_name``) import across packages: a module or name starting with ``_``
  defined in package P is imported only from P and its subpackages;
- the sampler imports no model.

Every rule holds for every module, with no recorded exception.
"""

import ast
from functools import lru_cache
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "pysoc"

#: layers of the dependency direction (a module imports only its own layer or lower ones)
LAYERS = (
    ("core", ("pysoc.errors", "pysoc.params", "pysoc.forcing", "pysoc.profiles", "pysoc.columns", "pysoc._status",
              "pysoc.io")),
    ("models", ("pysoc.models", "pysoc._kernels")),
    ("da", ("pysoc.da",)),
    ("proda/upscale", ("pysoc.proda", "pysoc.upscale")),
    ("plots", ("pysoc.plots",)),
    ("cli", ("pysoc.cli",)),
    ("data scripts", ("pysoc.data",)),    # scripts that rebuild shipped data (run by hand, imported by nothing)
)
#: modules that belong to no layer: the package root (version, lazy re-exports)
UNLAYERED = ("pysoc",)
#: directories of package data (scripts that rebuild a model's shipped data belong to that model)
MODEL_DATA_SCRIPTS = ("pysoc.data.",)

#: pool names that are ordinary words, not one model's pool (soil organic carbon)
GENERIC_POOL_NAMES = {"SOC"}


def modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        rel = p.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


@lru_cache(maxsize=None)
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _is_package(name: str) -> bool:
    p = modules().get(name)
    return p is not None and p.name == "__init__.py"


def imports_of(name: str, path: Path) -> list[tuple[str, str | None, int]]:
    """(module, imported name or None, line) of every import in the module, relative imports
    resolved, including imports inside functions."""
    out = []
    pkg = name if _is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            out.extend((a.name, None, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            out.extend((base, a.name, node.lineno) for a in node.names)
    return out


def targets(name: str, path: Path) -> set[str]:
    """The pysoc modules a module imports (``from pkg import submodule`` counts as the submodule)."""
    mods = modules()
    out = set()
    for mod, item, _ in imports_of(name, path):
        if not mod.startswith("pysoc"):
            continue
        sub = f"{mod}.{item}" if item else None
        if sub and (sub in mods or sub.startswith("pysoc._kernels.")):
            out.add(sub)
        else:
            out.add(mod)
    return out


def layer(name: str) -> int | None:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return rank
    return None


def is_plots(name: str) -> bool:
    return name == "pysoc.plots" or name.startswith("pysoc.plots.") or name.endswith(".plots")


# ---- the rules ---------------------------------------------------------------------------------
def test_only_models_import_kernels():
    bad = [f"{n}: imports {t}" for n, p in modules().items() if not n.startswith(("pysoc.models", "pysoc._kernels"))
           for t in targets(n, p) if t.startswith("pysoc._kernels")]
    assert not bad, "\n".join(bad)


def test_dependency_direction():
    bad = []
    for n, p in modules().items():
        own = layer(n)
        if own is None:
            assert n in UNLAYERED, f"{n}: module in no layer of the dependency direction (add it to LAYERS)"
            continue
        for t in targets(n, p):
            if is_plots(t):
                continue                                  # test_plots_only_from_cli
            tl = layer(t)
            if tl is None:
                if t not in UNLAYERED:
                    bad.append(f"{n}: imports {t}, a module in no layer")
                continue
            if tl > own:
                bad.append(f"{n}: imports {t} ({LAYERS[tl][0]} above {LAYERS[own][0]})")
            elif tl == own == 3 and t.split(".")[1] != n.split(".")[1]:
                bad.append(f"{n}: imports {t} (proda and upscale are independent)")
    assert not bad, "\n".join(bad)


def test_plots_only_from_cli():
    bad = [f"{n}: imports {t}" for n, p in modules().items() if not (n.startswith("pysoc.cli") or is_plots(n))
           for t in targets(n, p) if is_plots(t)]
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    mods = modules()
    graph = {n: sorted(t for t in targets(n, p) if t in mods and t != n) for n, p in mods.items()}
    cycles = _strongly_connected(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def _strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components with more than one module."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

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


def _model_names() -> set[str]:
    tree = _tree(PKG / "models" / "__init__.py")
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            tgt = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(tgt, ast.Name) and tgt.id == "REGISTRY":
                reg = ast.literal_eval(node.value)
                return {k.lower() for k in reg}, {v.split(":")[0] for v in reg.values()}
    raise AssertionError("pysoc/models/__init__.py: no REGISTRY")


def _docstring_nodes(tree: ast.Module) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def test_no_model_names_outside_models():
    names, model_modules = _model_names()
    assert {"clm5", "compas"} <= names
    bad = []
    for n, p in modules().items():
        if n.startswith(("pysoc.models", "pysoc._kernels")) or n.startswith(MODEL_DATA_SCRIPTS):
            continue
        tree = _tree(p)
        docs = _docstring_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs \
                    and node.value.strip().lower() in names:
                bad.append(f"{n}:{node.lineno}: string {node.value!r} (a model name)")
        for t in targets(n, p):
            if t in model_modules:
                bad.append(f"{n}: imports {t} (a model's module; ask the model object)")
    assert not bad, "\n".join(bad)


def _pool_names() -> set[str]:
    from pysoc.models import available_models, model_class
    out = set()
    for name in available_models():
        out |= set(model_class(name).pools)
    return out - GENERIC_POOL_NAMES


def _pool_name_uses() -> list[str]:
    pools = _pool_names()
    bad = []
    for n, p in modules().items():
        if n.startswith(("pysoc.models", "pysoc._kernels")) or n.startswith(MODEL_DATA_SCRIPTS):
            continue
        tree = _tree(p)
        docs = _docstring_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs \
                    and node.value in pools:
                bad.append(f"{n}:{node.lineno}: string {node.value!r} (a model's pool name)")
    return bad


def test_no_pool_names_outside_models():
    """Code outside pysoc/models gets pools from the model (``pools``, ``soc_index``, ...)."""
    bad = _pool_name_uses()
    assert not bad, "\n".join(bad)


def test_no_private_imports_across_packages():
    mods = modules()
    bad = []
    for n, p in mods.items():
        own_pkg = n if _is_package(n) else n.rpartition(".")[0]
        for mod, item, line in imports_of(n, p):
            if not mod.startswith("pysoc"):
                continue
            parts = mod.split(".") + ([item] if item else [])
            for i, part in enumerate(parts):
                if part.startswith("_") and not part.startswith("__"):
                    owner = ".".join(parts[:i])            # the module or package that defines it
                    if owner in mods and not _is_package(owner):
                        owner = owner.rpartition(".")[0]   # a module's private names belong to its package
                    if own_pkg != owner and not own_pkg.startswith(owner + "."):
                        bad.append(f"{n}:{line}: imports {'.'.join(parts[:i + 1])} (private to {owner})")
                    break
    assert not bad, "\n".join(bad)


def test_sampler_is_model_agnostic():
    p = PKG / "da" / "sampler.py"
    if p.exists():
        assert not [t for t in targets("pysoc.da.sampler", p) if t.startswith("pysoc.models")]


# ---- the rules catch what they are meant to catch ------------------------------------------------
def test_rules_catch_violations(tmp_path):
    """The checks on small synthetic modules: a model name, a private cross-package import,
    a model-module import, a relative import and a cycle."""
    src = tmp_path / "m.py"
    src.write_text('"""doc naming clm5 is fine."""\nfrom pysoc.models.compas import FLUXES\n'
                   'from pysoc.da.output import _site_entries\nfrom . import sibling\nX = "clm5"\n')
    tree = ast.parse(src.read_text())
    docs = _docstring_nodes(tree)
    consts = [c.value for c in ast.walk(tree) if isinstance(c, ast.Constant) and isinstance(c.value, str)
              and id(c) not in docs]
    assert consts == ["clm5"]
    imps = imports_of("pysoc.proda.fake", src)
    assert ("pysoc.proda", "sibling", 4) in imps and ("pysoc.da.output", "_site_entries", 3) in imps
    assert _strongly_connected({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert layer("pysoc.proda.workflow") == 3 and layer("pysoc.io.site_forcing") == 0 and is_plots("pysoc.proda.plots")
