"""MPI helpers of the PRODA workflow (mpi4py; serial fallback).

A communicator is used only when the process was started by an MPI launcher (mpirun /
mpiexec / srun set OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK) with more than one rank
and mpi4py imports; otherwise :class:`SerialComm` (size 1) stands in, so the same code
runs serially. Work is split deterministically: grid cells in contiguous chunks
(:func:`chunk`), networks round-robin (:func:`owner`); rank 0 gathers and writes.
"""

from __future__ import annotations

import os

import numpy as np

_LAUNCHER_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "SLURM_NTASKS")


class SerialComm:
    """The subset of the mpi4py communicator API used here, for one process."""

    rank = 0
    size = 1

    def Get_rank(self) -> int:
        return 0

    def Get_size(self) -> int:
        return 1

    def bcast(self, obj, root=0):
        return obj

    def gather(self, obj, root=0):
        return [obj]

    def allgather(self, obj):
        return [obj]

    def barrier(self):
        return None

    def allreduce(self, obj, op=None):
        return obj


def get_comm(mode: str = "auto"):
    """MPI.COMM_WORLD when running under an MPI launcher with > 1 rank ('auto'), always
    ('on'), or never ('off')."""
    if mode == "off":
        return SerialComm()
    if mode == "auto" and not any(os.environ.get(v) for v in _LAUNCHER_VARS):
        return SerialComm()
    try:
        from mpi4py import MPI
    except ImportError:
        if mode == "on":
            from pysoc.errors import ConfigError
            raise ConfigError("MPI requested but mpi4py is not importable") from None
        return SerialComm()
    comm = MPI.COMM_WORLD
    if comm.Get_size() == 1 and mode == "auto":
        return SerialComm()
    return comm            # mpi4py communicators have .rank and .size


def chunk(n: int, rank: int, size: int) -> np.ndarray:
    """Indices of the contiguous chunk of range(n) owned by ``rank`` (sizes differ by <= 1)."""
    bounds = np.linspace(0, n, size + 1).round().astype(int)
    return np.arange(bounds[rank], bounds[rank + 1])


def owner(i: int, size: int) -> int:
    """Rank that owns task ``i`` (round-robin)."""
    return int(i) % int(size)


def gather_chunks(comm, local: np.ndarray, n: int, axis: int = 0):
    """Assemble per-rank chunks (contiguous in rank order along ``axis``) on rank 0; other
    ranks get None."""
    parts = comm.gather(local, root=0)
    if comm.rank != 0:
        return None
    out = np.concatenate(parts, axis=axis)
    if out.shape[axis] != n:
        raise RuntimeError(f"gather_chunks: got {out.shape[axis]} rows, expected {n}")
    return out
