"""Atomic file writes: outputs appear complete or not at all (never half-written), and the
checks of output paths that every CLI makes before any work starts.

The temporary file of :func:`atomic_path` is visible next to the target,
``<name>.<pid>.<random>.part`` (never a hidden file): a run that is killed leaves a file the
user can see, and the next write of the same target removes such leftovers of processes
that no longer run.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pysoc.errors import ConfigError

#: leftovers of a legacy hidden temporary file (".<name>.<random>.part") older than this are removed
_LEGACY_AGE_S = 3600.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # exists, another user's process
        return True
    except OSError:
        return True
    return True


def remove_stale_parts(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that killed writers of ``path`` left behind:
    ``<name>.<pid>.<random>.part`` whose process no longer runs on this host, and legacy
    hidden ``.<name>.<random>.part`` files older than an hour. Returns the removed paths.

    Parameters
    ----------
    path : str or os.PathLike
        The target file.

    Returns
    -------
    list of pathlib.Path
        Files removed.

    Examples
    --------
    >>> remove_stale_parts("/nonexistent/dir/out.nc")
    []
    """
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        return []
    visible = re.compile(re.escape(path.name) + r"\.(\d+)\.[A-Za-z0-9_]+\.part$")
    hidden = re.compile(r"\." + re.escape(path.name) + r"\.[A-Za-z0-9_]+\.part$")
    removed = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return []
    now = time.time()
    for p in entries:
        m = visible.match(p.name)
        try:
            stale = (m is not None and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1)))) or (
                hidden.match(p.name) is not None and now - p.stat().st_mtime > _LEGACY_AGE_S)
            if stale:
                p.unlink()
                removed.append(p)
        except OSError:
            continue
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's directory. When the block succeeds the file
    is given the usual permissions and renamed onto ``path``; when it raises, the
    temporary file is removed and ``path`` is left untouched. The temporary name is visible,
    ``<name>.<pid>.<random>.part``; leftovers of killed writers are removed first
    (:func:`remove_stale_parts`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{path.name}.{os.getpid()}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)          # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_csv(df, path: str | os.PathLike, *, float_format: str | None = "%.6g", index: bool = False,
              **to_csv) -> Path:
    """Write a table as CSV through :func:`atomic_path` (complete or not at all, mode 0644
    under the usual umask 022, like every other output). The one CSV writer of pysoc.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    path : str or os.PathLike
        Output file (its directory is created).
    float_format : str or None
        Format of floats; six significant digits by default, None for pandas' round-trip
        representation.
    index : bool
        Write the row index (default: no).
    **to_csv
        Further keywords of :meth:`pandas.DataFrame.to_csv`.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OSError
        The file cannot be written (nothing is left behind).

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> out = write_csv(pd.DataFrame({"x": [1 / 3]}), os.path.join(tempfile.mkdtemp(), "t.csv"))
    >>> print(out.read_text(), end="")
    x
    0.333333
    >>> umask = os.umask(0); _ = os.umask(umask)
    >>> out.stat().st_mode & 0o777 == 0o666 & ~umask        # 0o644 under umask 022
    True
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=index, float_format=float_format, **to_csv)
    return path


def _first_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _can_create_in(d: Path) -> str | None:
    """None when a file can be created in the existing directory ``d``, else the reason. The
    permission bits first, then a probe file (created and removed at once), which also sees
    read-only file systems and immutable directories that the bits do not show (e.g. as root)."""
    if not os.access(d, os.W_OK | os.X_OK):
        return "permission denied"
    try:
        fd, probe = tempfile.mkstemp(prefix=".pysoc-write-test-", dir=d)
    except OSError as exc:
        return os.strerror(exc.errno).lower() if exc.errno else str(exc)
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass
    return None


def _check_dir(d: Path, what: str, shown: str) -> None:
    base = _first_existing(d)
    if not base.is_dir():
        raise ConfigError(f"{what} = '{shown}': {base} is a file, not a directory")
    reason = _can_create_in(base)
    if reason:
        verb = "write to" if base == d else "create directories in"
        raise ConfigError(f"{what} = '{shown}': cannot {verb} {base} ({reason})")


def check_output_dir(path: str | os.PathLike, what: str) -> Path:
    """Check that a directory can hold outputs, before any work starts: it exists as a
    directory or can be created (no regular file in the way), and files can be created in it.
    Creates nothing (a probe file is created and removed at once).

    Parameters
    ----------
    path : str or os.PathLike
        The directory.
    what : str
        How to name it in the message (e.g. ``'run.nml: &calibrate output_dir'``).

    Returns
    -------
    pathlib.Path
        The directory.

    Raises
    ------
    ConfigError
        One line naming ``what``, the path and the problem.

    Examples
    --------
    >>> check_output_dir("/etc/hostname/sub", "demo")  # doctest: +SKIP
    Traceback (most recent call last):
    pysoc.errors.ConfigError: demo = '/etc/hostname/sub': /etc/hostname is a file, not a directory
    """
    if str(path) == "":
        raise ConfigError(f"{what}: empty path (give a directory)")
    d = Path(path)
    if d.exists() and not d.is_dir():
        raise ConfigError(f"{what} = '{d}': exists and is not a directory")
    _check_dir(d, what, str(d))
    return d


def check_output_file(path: str | os.PathLike, what: str) -> Path:
    """Check that an output file can be written, before any work starts: a non-empty path
    that is not a directory, whose directory exists or can be created, and in which files can
    be created. Creates nothing (a probe file is created and removed at once).

    Parameters
    ----------
    path : str or os.PathLike
        The output file.
    what : str
        How to name it in the message (e.g. ``'run.nml: &run output_file'``).

    Returns
    -------
    pathlib.Path
        The output path.

    Raises
    ------
    ConfigError
        One line naming ``what``, the path and the problem.

    Examples
    --------
    >>> check_output_file("", "demo")
    Traceback (most recent call last):
    pysoc.errors.ConfigError: demo = '': not a file name (give a file, e.g. 'output/run.nc')
    """
    if str(path) == "" or str(path).endswith(os.sep):
        raise ConfigError(f"{what} = '{path}': not a file name (give a file, e.g. 'output/run.nc')")
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{what} = '{p}': is a directory (give a file name inside it, e.g. '{p / 'run.nc'}')")
    _check_dir(p.parent, what, str(p))
    return p


def describe_os_error(exc: OSError, path: str | os.PathLike | None = None) -> str:
    """One line for an OSError of a file operation: the file and the reason, without the
    errno noise (``'/a/b: permission denied'``)."""
    name = exc.filename if exc.filename is not None else path
    reason = os.strerror(exc.errno).lower() if exc.errno in errno.errorcode else str(exc)
    return f"{name}: {reason}" if name is not None else reason
