"""Command-line entry points (argparse only; no science here) and the conventions every
pysoc CLI shares: one-line errors with exit status 2 (:func:`run_main`), ``--version``
(:func:`add_version`) and the key listing ``--describe-namelist`` (:func:`add_describe_namelist`;
``--keys`` is kept as a hidden alias)."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

import pysoc
from pysoc.errors import PysocError


def run_main(prog: str, main: Callable[[], int]) -> int:
    """Run ``main`` turning pysoc errors into one line on stderr and exit status 2."""
    try:
        return int(main() or 0)
    except PysocError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def add_version(parser: argparse.ArgumentParser, prog: str) -> None:
    """``--version``: print '<prog> (pysoc) <version>' and exit 0.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The CLI's parser.
    prog : str
        Program name shown in the version line.

    Examples
    --------
    >>> p = argparse.ArgumentParser(prog="pysoc-demo")
    >>> add_version(p, "pysoc-demo")
    """
    parser.add_argument("--version", action="version", version=f"{prog} (pysoc) {pysoc.__version__}",
                        help="print the version and exit")


def add_describe_namelist(parser: argparse.ArgumentParser, model: bool = True) -> None:
    """The key listing of every pysoc CLI: ``--describe-namelist MODEL`` (or without an
    argument when the namelist does not depend on a model); ``--keys`` is a hidden alias.
    The value is in ``args.describe_namelist`` (the model name, or True).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The CLI's parser.
    model : bool
        Whether the keys depend on a model (the option then takes the model name).

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_describe_namelist(p)
    >>> p.parse_args(["--keys", "clm5"]).describe_namelist
    'clm5'
    """
    text = "print every namelist key (type, default, allowed values, documentation) and exit"
    if model:
        parser.add_argument("--describe-namelist", metavar="MODEL", dest="describe_namelist",
                            help=text.replace("key", "key for MODEL", 1))
        parser.add_argument("--keys", metavar="MODEL", dest="describe_namelist", help=argparse.SUPPRESS)
    else:
        parser.add_argument("--describe-namelist", action="store_true", dest="describe_namelist", help=text)
        parser.add_argument("--keys", action="store_true", dest="describe_namelist", help=argparse.SUPPRESS)
