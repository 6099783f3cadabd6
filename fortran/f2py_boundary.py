"""Run f2py on one f2py boundary file ``fortran/api_<name>.f90`` (called by meson.build).

Usage: python f2py_boundary.py API_FILE NAME OUTDIR [MODULE_SOURCE ...]

The api file declares its array sizes with the named integer constants of the kernel
modules it uses (``par(clm5_npar, nset)``). f2py cannot see into compiled modules, and when
given the module sources it also wraps their variables (badly, for array constants), so this
script reads the integer constants of the MODULE_SOURCE files (the declarations before
``contains``) and hands f2py a copy of the api file in which each routine declares the
constants it uses as local parameters (``use`` lines dropped). f2py then checks every fixed
size: an array of another shape is a ValueError naming the argument. The compiler still
builds the real api file, so Fortran and f2py read the same constants.

Writes ``<name>module.c`` and ``<name>-f2pywrappers.f`` into OUTDIR, the outputs meson expects.
"""
import ast
import re
import subprocess
import sys
import tempfile
from pathlib import Path

_DECL = re.compile(r"^\s*integer(?:\s*\([^)]*\))?\s*,[^:]*\bparameter\b[^:]*::(.*)$", re.I)
_ROUTINE = re.compile(r"^\s*subroutine\s+(\w+)", re.I | re.M)


def _statements(text: str) -> list[str]:
    """Free-form statements of a Fortran source: comments dropped, continuations joined."""
    out, cur = [], ""
    for line in text.splitlines():
        code = line.split("!", 1)[0].rstrip()
        if not code.strip():
            continue
        cur += code.strip().lstrip("&")
        if cur.endswith("&"):
            cur = cur[:-1]
            continue
        out.append(cur)
        cur = ""
    return out


def _value(expr: str, known: dict[str, int]) -> int | None:
    """Integer value of a constant expression (literals, + - * / of known names), else None."""
    try:
        tree = ast.parse(expr.strip().lower(), mode="eval")
    except SyntaxError:
        return None
    ok = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Add,
          ast.Sub, ast.Mult, ast.FloorDiv, ast.Div, ast.USub, ast.UAdd)
    if not all(isinstance(n, ok) for n in ast.walk(tree)):
        return None
    if not all(n.id in known for n in ast.walk(tree) if isinstance(n, ast.Name)):
        return None
    expr = expr.lower().replace("/", "//")
    value = eval(compile(ast.parse(expr.strip(), mode="eval"), "<f90>", "eval"), {}, dict(known))
    return value if isinstance(value, int) else None


def module_constants(sources: list[str]) -> dict[str, int]:
    """Named scalar integer constants declared in the specification part of the modules."""
    known: dict[str, int] = {}
    for src in sources:
        for stmt in _statements(Path(src).read_text()):
            if re.match(r"^\s*contains\b", stmt, re.I):
                break
            m = _DECL.match(stmt)
            if not m:
                continue
            for item in re.split(r",(?![^(]*\))", m.group(1)):
                name, _, expr = item.partition("=")
                name = name.strip().lower()
                if re.fullmatch(r"[a-z]\w*", name):      # scalars only (no name(dim))
                    value = _value(expr, known)
                    if value is not None:
                        known[name] = value
    return known


def f2py_source(api_text: str, constants: dict[str, int]) -> str:
    """The api file as f2py reads it: constants as local parameters, no use statements."""
    lines, skip = [], False
    for line in api_text.splitlines():
        code = line.split("!", 1)[0]
        if skip or re.match(r"^\s*use\b", code, re.I):
            skip = code.rstrip().endswith("&")      # a use statement and its continuations
            continue
        lines.append(line)
    out = []
    for block in re.split(r"(?im)^(?=[ \t]*subroutine\s)", "\n".join(lines)):
        code = "\n".join(ln if ln.lstrip().lower().startswith("!f2py") else ln.split("!", 1)[0]
                         for ln in block.splitlines()).lower()     # code and !f2py directives
        used = sorted(set(re.findall(r"\b\w+\b", code)) & constants.keys())
        if used:
            decl = "  integer, parameter :: " + ", ".join(f"{n} = {constants[n]}" for n in used)
            block, n = re.subn(r"(?im)^([ \t]*implicit[ \t]+none[ \t]*)$",
                               lambda m: m.group(1) + "\n" + decl, block, count=1)
            if n != 1:
                raise SystemExit(f"f2py_boundary: error: a routine using {used} has no 'implicit none'")
        out.append(block)
    return "".join(out) + "\n"


def main(argv: list[str]) -> int:
    api, name, outdir, *modules = argv
    text = Path(api).read_text()
    if not _ROUTINE.search(text):
        print(f"f2py_boundary: error: no subroutine in {api}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / Path(api).name
        src.write_text(f2py_source(text, module_constants(modules)))
        cmd = [sys.executable, "-m", "numpy.f2py", str(src), "-m", name, "--lower",
               "--build-dir", outdir]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout)
        return done.returncode
    wrappers = Path(outdir) / (name + "-f2pywrappers.f")
    if not wrappers.exists():
        wrappers.write_text("! no wrappers needed (fortran/f2py_boundary.py)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
