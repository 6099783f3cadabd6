"""The f2py boundary (fortran/api_*.f90 -> pysoc._kernels.*): every entry point is declared
threadsafe (and the GIL is really released), every fixed or shared array dimension is checked
(a wrong-size array is a ValueError naming the argument, never an out-of-bounds read), the
sizes are the kernel modules' constants, and the test-only probes stay out of pysoc."""

import ast
import importlib
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
FORTRAN = ROOT / "fortran"
APIS = sorted(FORTRAN.glob("api_*.f90"))
MODULES = [p.stem[len("api_"):] for p in APIS]
PROBES = {"century_probes", "compas_probes", "mimics_probes"}    # test-only extensions


def subroutines(api: Path) -> dict[str, str]:
    """name -> source text (up to ``end subroutine``) of every external subroutine of an api file."""
    text = api.read_text()
    return {m.group(1).lower(): m.group(0)
            for m in re.finditer(r"(?ims)^[ \t]*subroutine[ \t]+(\w+).*?^[ \t]*end[ \t]+subroutine\b", text)}


def entry_points(module) -> list[str]:
    return sorted(n for n in dir(module) if type(getattr(module, n)).__name__ == "fortran")


def all_entry_points():
    out = []
    for name in MODULES:
        mod = importlib.import_module("pysoc._kernels." + name)
        out += [(name, f) for f in entry_points(mod)]
    return out


ENTRY_POINTS = all_entry_points()


def test_every_api_file_is_a_module_with_exactly_its_subroutines():
    assert {"core", "clm5", "compas", "century", "mimics"} | PROBES <= set(MODULES)
    for api, name in zip(APIS, MODULES):
        mod = importlib.import_module("pysoc._kernels." + name)
        assert entry_points(mod) == sorted(subroutines(api)), api.name


@pytest.mark.parametrize("api", APIS, ids=MODULES)
def test_every_entry_point_is_threadsafe(api):
    """f2py releases the GIL only for routines with ``!f2py threadsafe`` (the batched kernels
    are called from thread pools; a missing directive silently serialises them)."""
    missing = [n for n, src in subroutines(api).items()
               if not re.search(r"(?im)^\s*!f2py\s+threadsafe\s*$", src)]
    assert not missing, f"{api.name}: no '!f2py threadsafe' in {missing}"


_ARG = re.compile(r"^(\w+) : input (?:rank-(\d+) array\('(\w)'\) with bounds \(([^)]*)\)|(int|float))$")


def signature(func):
    """Input arguments of an f2py function from its docstring: (name, kind, bounds)."""
    if "Parameters" not in func.__doc__:
        return []
    doc = func.__doc__.split("Parameters", 1)[1].split("Returns", 1)[0]
    args = []
    for line in doc.splitlines():
        m = _ARG.match(line.strip())
        if m:
            name, rank, dtype, bounds, scalar = m.groups()
            if scalar:
                args.append((name, scalar, None))
            else:
                args.append((name, dtype, [b.strip() for b in bounds.split(",")]))
    assert len(args) == len(re.search(r"\((.*)\)", func.__doc__.splitlines()[0]).group(1).split(","))
    return args


def build_args(sig, sizes, bump=None):
    """Arguments of valid shape (symbolic sizes from `sizes`); bump=(arg, dim) adds 1 there."""
    out = []
    for name, kind, bounds in sig:
        if bounds is None:
            out.append(1 if kind == "int" else 1.0)
            continue
        shape = [int(b) if b.isdigit() else sizes[b] for b in bounds]
        if bump is not None and bump[0] == name:
            shape[bump[1]] += 1
        dtype = np.int32 if kind == "i" else np.float64
        out.append(np.ones(shape, dtype=dtype, order="F"))
    return out


def checked_dims(sig):
    """(arg, dim) of every input dimension f2py must check: a literal size, or a symbolic
    size that another input dimension shares (so a mismatch is detectable)."""
    uses = {}
    for name, _, bounds in sig:
        for d, b in enumerate(bounds or []):
            uses.setdefault(b, []).append((name, d))
    return [(name, d) for name, _, bounds in sig for d, b in enumerate(bounds or [])
            if b.isdigit() or len(uses[b]) > 1]


@pytest.mark.parametrize("module,name", ENTRY_POINTS, ids=[f"{m}.{f}" for m, f in ENTRY_POINTS])
def test_wrong_size_arrays_raise_a_clear_error(module, name):
    """Each entry point accepts its declared shapes, and every checked dimension that is one
    too large is refused by f2py with a ValueError (or, for a ``check()`` directive, the
    module's error) naming the argument: the kernel never runs on a wrong-size array."""
    mod = importlib.import_module("pysoc._kernels." + module)
    func = getattr(mod, name)
    sig = signature(func)
    symbols = sorted({b for _, _, bounds in sig for b in bounds or [] if not b.isdigit()})
    sizes = {s: 2 + i for i, s in enumerate(symbols)}     # small, pairwise different
    func(*build_args(sig, sizes))                          # declared shapes: no error
    # the message names the array found inconsistent (for the array a hidden size is taken
    # from, that is the next array sharing the size)
    named = r"argument `?(" + "|".join(n for n, _, b in sig if b) + r")\b"
    for arg, dim in checked_dims(sig):
        with pytest.raises((ValueError, getattr(mod, f"_{module}_error")), match=named):
            func(*build_args(sig, sizes, bump=(arg, dim)))


def _module_constants(path):
    sys.path.insert(0, str(FORTRAN))
    try:
        import f2py_boundary
    finally:
        sys.path.pop(0)
    return f2py_boundary.module_constants([str(path)])


def test_sizes_are_the_kernel_modules_constants():
    """The fixed sizes f2py checks are the Fortran module constants, not literals that can drift."""
    from pysoc._kernels import century, clm5, compas, mimics, mimics_probes
    c = _module_constants(FORTRAN / "soc_clm5.f90")
    assert "(%d,nset)" % c["clm5_npar"] in clm5.steady_batch.__doc__
    assert "(nlev,%d,nset)" % c["clm5_npool"] in clm5.steady_batch.__doc__
    c = _module_constants(FORTRAN / "soc_compas.f90")
    assert "(%d,nset)" % c["compas_npar"] in compas.steady_batch.__doc__
    assert "(nlev,%d)" % c["compas_nflux"] in compas.fluxes.__doc__
    c = _module_constants(FORTRAN / "soc_mimics.f90")
    assert "(%d,nset)" % c["mim_npar"] in mimics.steady_batch.__doc__
    assert "(%d * nlay,%d * nlay)" % (c["mim_npool"], c["mim_npool"]) in mimics_probes.tendency.__doc__
    c = _module_constants(FORTRAN / "soc_century.f90")
    assert century.layout() == tuple(c[k] for k in ("cen_npar", "cen_nstate", "cen_nout", "cen_nsite",
                                                    "cen_nopt", "cen_npool"))
    assert "(%d,nmon,nset)" % c["cen_nout"] in century.run_batch.__doc__
    for api in APIS:       # no literal parameter-vector sizes left in the signatures
        assert not re.search(r"\bpar\(\d", api.read_text()), api.name


def test_probes_are_not_part_of_the_package():
    """The <kernel>_probes extensions are test-only: no module of pysoc imports them, and the
    production modules no longer carry the probes of single pieces."""
    import pysoc._kernels as kernels
    for path in (ROOT / "pysoc").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                 for a in n.names] + [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not any(p in n for n in names for p in PROBES), path
    production = {
        "century": ["initial_state", "layout", "linear_steady", "run_batch", "spinup_batch", "water_props"],
        "compas": ["fluxes", "operators", "reason_codes", "steady_batch", "transient"],
        "mimics": ["c14_steady", "initial_guess", "profile_batch", "spinup", "steady_batch", "transient"],
    }
    for name, funcs in production.items():
        assert entry_points(importlib.import_module(f"{kernels.__name__}.{name}")) == funcs, name
        probes = entry_points(importlib.import_module(f"{kernels.__name__}.{name}_probes"))
        assert probes and not set(probes) & set(funcs), name


def _clm5_batch_args(clm5, nset):
    """Real arguments of clm5.steady_batch (captured from one evaluate), tiled to nset sets."""
    from conftest import synthetic_forcing
    from pysoc._kernels import clm5 as k
    seen = {}
    orig = k.steady_batch

    def spy(*args):
        seen["args"] = args
        return orig(*args)

    k.steady_batch = spy
    try:
        clm5.evaluate(synthetic_forcing(clm5, 1), clm5.to_physical(np.full(21, 0.5)))
    finally:
        k.steady_batch = orig
    args = list(seen["args"])
    args[3] = np.asfortranarray(np.repeat(args[3][:, :1], nset, axis=1))
    args[4] = np.ones(nset, dtype=np.int32)
    return orig, args


def test_batched_kernel_releases_the_gil(clm5):
    """While one thread runs a batched kernel, another thread keeps running Python code
    (the observable effect of ``threadsafe``), and the results equal the serial ones."""
    kernel, args = _clm5_batch_args(clm5, 4000)
    serial = kernel(*args)
    stamps, stop = [], threading.Event()

    def counter():
        while not stop.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        th = threading.Thread(target=counter)
        th.start()
        time.sleep(0.01)
        for _ in range(20):                      # until one call lasts long enough to judge
            t0 = time.perf_counter()
            out = kernel(*args)
            t1 = time.perf_counter()
            if t1 - t0 > 0.05:
                break
            args[3] = np.asfortranarray(np.repeat(args[3], 2, axis=1))
            args[4] = np.ones(args[3].shape[1], dtype=np.int32)
        stop.set()
        th.join()
    finally:
        sys.setswitchinterval(old)
    inside = [s for s in stamps if t0 + 0.2 * (t1 - t0) < s < t1 - 0.05 * (t1 - t0)]
    assert inside, f"no Python progress during a {t1 - t0:.3f} s kernel call: GIL held"
    x, status = out[0], out[3]                   # every set is the same: equal to the serial one
    assert (status == 0).all() and (serial[3] == 0).all()
    assert np.array_equal(x, np.repeat(serial[0][:, :, :1], x.shape[2], axis=2))
