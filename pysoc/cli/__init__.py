"""Command-line entry points (argparse only; no science here)."""

from __future__ import annotations

import sys
from typing import Callable

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
