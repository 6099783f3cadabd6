"""Conventions every console script declared in pyproject.toml follows: ``--help`` and
``--version`` exit 0, the key listing is ``--describe-namelist`` (``--keys`` a hidden alias),
and a wrong option is one line on stderr with exit status 2."""

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import pysoc

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
#: key listing of each CLI: the argument it takes (a model name, or none)
DESCRIBE = {"pysoc-run": ["clm5"], "pysoc-calibrate": ["clm5"], "pysoc-proda": ["clm5"], "pysoc-upscale": []}


def cli(name: str, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run a console script as ``python -m <module>`` (the module in pyproject.toml)."""
    module, func = SCRIPTS[name].split(":")
    code = f"import sys; from {module} import {func}; sys.exit({func}())"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)


def test_every_declared_script_has_a_module():
    assert set(SCRIPTS) == set(DESCRIBE), "new console script: add it to DESCRIBE"
    for name, target in SCRIPTS.items():
        module, func = target.split(":")
        assert (REPO / (module.replace(".", "/") + ".py")).is_file(), (name, target)


@pytest.mark.parametrize("name", sorted(DESCRIBE))
def test_help_and_version_of_the_console_script(name):
    r = cli(name, "--help")
    assert r.returncode == 0 and "--version" in r.stdout and "--describe-namelist" in r.stdout, r.stderr
    assert "--keys" not in r.stdout                                   # the alias is hidden
    r = cli(name, "--version")
    assert r.returncode == 0 and r.stdout.strip() == f"{name} (pysoc) {pysoc.__version__}"


@pytest.mark.parametrize("name", sorted(DESCRIBE))
def test_one_key_listing_and_one_line_errors(name, capsys):
    module, func = SCRIPTS[name].split(":")
    main = getattr(importlib.import_module(module), func)
    assert main(["--describe-namelist", *DESCRIBE[name]]) == 0
    listing = capsys.readouterr().out
    assert main(["--keys", *DESCRIBE[name]]) == 0
    assert capsys.readouterr().out == listing and "`" in listing
    with pytest.raises(SystemExit) as exc:
        main(["--no-such-option"])
    assert exc.value.code == 2 and "error" in capsys.readouterr().err
