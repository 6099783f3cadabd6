"""Helpers of the bad-input tests (tests/test_badinput_*.py): run a CLI in-process and check
the contract of issue 15 -- exit status 2, exactly one line ``prog: error: ...`` naming the
file / key / range, no traceback, and no new file in the output directory."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def files_under(*dirs) -> set:
    """Every file (recursively, hidden ones too) under the given directories."""
    out = set()
    for d in dirs:
        d = Path(d)
        if d.is_dir():
            out |= {p for p in d.rglob("*") if p.is_file()}
    return out


def one_error_line(main, argv, capsys, prog: str, fragments=(), status: int = 2, watch=()) -> str:
    """Run ``main(argv)`` in-process and check the bad-input contract; return the error line.

    Parameters
    ----------
    main : callable
        The CLI's ``main(argv)``.
    argv : list of str
        Arguments.
    capsys : pytest fixture
        Captures stdout/stderr.
    prog : str
        Program name the line starts with (``prog: error:``).
    fragments : sequence of str
        Texts the line must contain (the file, the key, the range).
    status : int
        Expected exit status.
    watch : sequence of path
        Directories in which no new file may appear.
    """
    before = files_under(*watch)
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    lines = [ln for ln in cap.err.strip().splitlines() if ln.strip()]
    assert code == status, (code, cap.err[-2000:])
    assert "Traceback" not in cap.err and "Traceback" not in cap.out, cap.err[-2000:]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{prog}: error:"), lines[0]
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    new = files_under(*watch) - before
    assert not new, sorted(map(str, new))
    return lines[0]


def console_script(name: str) -> str:
    """Path of an installed console script next to the running interpreter."""
    import sys

    return str(Path(sys.executable).parent / name)


def read_only_dir(path: Path):
    """Make ``path`` a directory in which no file can be created, also for root (chattr +i
    where chmod is not enough). Returns a function that undoes it, or None when impossible."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o555)
    if os.geteuid() != 0:
        return lambda: os.chmod(path, 0o755)
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
        os.chmod(path, 0o755)
        return None

    def undo():
        subprocess.run([chattr, "-i", str(path)], capture_output=True)
        os.chmod(path, 0o755)
    return undo
