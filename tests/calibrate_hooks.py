"""Failure injection for the calibration tests, through the engine's documented hooks
(:class:`pysoc.da.run.RunHooks`); nothing of it is in the package.

Spec (comma-separated items, also read from ``$PYSOC_CALIBRATE_INJECT`` when this file runs
as a script):

- ``site_error@SITE``: the set-up of site SITE raises a DataError (the site fails, the run
  continues);
- ``error@rank=K``: rank K raises a RuntimeError when it starts a site or, in one-batch mode,
  when its cost function is ready (the whole job ends);
- ``kill@block=N``: rank 0 kills itself with SIGKILL after its N-th sampler block.

In process (pytest)::

    with injected("site_error@syn002"):
        run_calibration(...)

Under MPI, run this file in place of the CLI module::

    PYSOC_CALIBRATE_INJECT=kill@block=9 mpirun -n 2 python -m mpi4py tests/calibrate_hooks.py run.nml
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

from pysoc.da.run import RunHooks, add_hook, remove_hook
from pysoc.errors import DataError

INJECT_ENV = "PYSOC_CALIBRATE_INJECT"
SCRIPT = __file__


def parse(spec: str) -> dict:
    """``'a@x,b@y,a@z'`` -> ``{'a': ['x', 'z'], 'b': ['y']}``."""
    out: dict = {}
    for item in filter(None, spec.split(",")):
        kind, _, arg = item.partition("@")
        out.setdefault(kind.strip(), []).append(arg.strip())
    return out


class InjectFailures(RunHooks):
    """The hooks of one spec (see the module docstring)."""

    def __init__(self, spec: str):
        self.spec = parse(spec)
        self.blocks = 0

    def _rank_error(self, ctx) -> None:
        if f"rank={ctx.ex.rank}" in self.spec.get("error", []):
            raise RuntimeError(f"injected failure on rank {ctx.ex.rank} ({INJECT_ENV})")

    def site_started(self, ctx, site_id: str) -> None:
        self._rank_error(ctx)
        if site_id in self.spec.get("site_error", []):
            raise DataError(f"site {site_id}: injected site failure ({INJECT_ENV})")

    def batch_ready(self, ctx) -> None:
        self._rank_error(ctx)

    def block_done(self, ctx, sampler) -> None:
        self.blocks += 1
        if ctx.ex.rank == 0 and f"block={self.blocks}" in self.spec.get("kill", []):
            os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def injected(spec: str):
    """Install the hooks of ``spec`` for the duration of the block."""
    hook = add_hook(InjectFailures(spec))
    try:
        yield hook
    finally:
        remove_hook(hook)


def main(argv=None) -> int:
    """``pysoc-calibrate`` with the hooks of ``$PYSOC_CALIBRATE_INJECT`` installed."""
    from pysoc.cli.calibrate import main as calibrate_main

    spec = os.environ.get(INJECT_ENV, "")
    if spec:
        add_hook(InjectFailures(spec))
    return calibrate_main(argv)


if __name__ == "__main__":
    sys.exit(main())
