"""The one MPI shim (pysoc.da.parallel): launcher detection from monkeypatched environments,
the executor modes (a fake mpi4py, so that no MPI is initialised in the test process), the
serial executor API and the static work splits."""

import sys
import types

import numpy as np
import pytest

from pysoc.da import parallel as par
from pysoc.errors import ConfigError

#: one variable per launcher family, as each sets it in the ranks it starts
LAUNCHERS = {
    "Open MPI mpirun": {"OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "1"},
    "MPICH/Intel Hydra": {"PMI_RANK": "1", "PMI_SIZE": "4", "MPI_LOCALNRANKS": "4"},
    "PMI_RANK only (was missing in proda)": {"PMI_RANK": "0"},
    "PMIx": {"PMIX_RANK": "0"},
    "MVAPICH2": {"MV2_COMM_WORLD_SIZE": "4"},
    "Slurm srun": {"SLURM_PROCID": "2", "SLURM_NTASKS": "4"},
    "SLURM_NTASKS only (was missing in da)": {"SLURM_NTASKS": "4"},
    "Cray PALS": {"PALS_RANKID": "0"},
}


def _clear(monkeypatch):
    for k in par.LAUNCHER_VARS:
        monkeypatch.delenv(k, raising=False)


class _FakeComm:
    def __init__(self, size):
        self.size = size

    def Get_rank(self):
        return 0

    def Get_size(self):
        return self.size


def _fake_mpi4py(monkeypatch, size):
    mod = types.ModuleType("mpi4py")
    mod.MPI = types.SimpleNamespace(COMM_WORLD=_FakeComm(size))
    monkeypatch.setitem(sys.modules, "mpi4py", mod)


@pytest.mark.parametrize("name", sorted(LAUNCHERS))
def test_launcher_detected(monkeypatch, name):
    _clear(monkeypatch)
    assert not par.launched_by_mpi()
    for k, v in LAUNCHERS[name].items():
        monkeypatch.setenv(k, v)
    assert par.launched_by_mpi()
    assert par.launcher_variable() in LAUNCHERS[name]
    assert par.launched_by_mpi(dict(LAUNCHERS[name]))          # explicit mapping, same answer


def test_union_of_both_former_shims():
    """Every variable either former shim (da and proda) looked at is still recognised."""
    former_da = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK", "MPI_LOCALNRANKS",
                 "MV2_COMM_WORLD_SIZE", "I_MPI_HYDRA_HOST_FILE")
    former_proda = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "SLURM_NTASKS")
    for k in set(former_da) | set(former_proda):
        assert par.launcher_variable({k: "1"}) == k


def test_not_launched(monkeypatch):
    _clear(monkeypatch)
    monkeypatch.setenv("OMPI_ALLOW_RUN_AS_ROOT", "1")           # an Open MPI setting, not a launch
    monkeypatch.setenv("SLURM_NTASKS", "")                      # empty counts as unset
    assert par.launcher_variable() is None
    ex = par.get_executor()
    assert isinstance(ex, par.SerialExecutor) and (ex.rank, ex.size, ex.is_root, ex.mpi) == (0, 1, True, False)


def test_modes(monkeypatch):
    _clear(monkeypatch)
    _fake_mpi4py(monkeypatch, 3)
    assert isinstance(par.get_executor("auto"), par.SerialExecutor)       # no launcher
    assert isinstance(par.get_executor(None), par.SerialExecutor)
    ex = par.get_executor("on")
    assert isinstance(ex, par.MPIExecutor) and ex.size == 3 and ex.is_root
    assert isinstance(par.get_executor(True), par.MPIExecutor)
    monkeypatch.setenv("PMI_RANK", "0")
    assert isinstance(par.get_executor("auto"), par.MPIExecutor)
    assert isinstance(par.get_executor("off"), par.SerialExecutor)
    assert isinstance(par.get_executor(False), par.SerialExecutor)
    with pytest.raises(ConfigError, match="mpi = 'sometimes'"):
        par.get_executor("sometimes")


def test_auto_world_of_one_is_serial(monkeypatch):
    _clear(monkeypatch)
    _fake_mpi4py(monkeypatch, 1)
    monkeypatch.setenv("SLURM_NTASKS", "1")
    assert isinstance(par.get_executor("auto"), par.SerialExecutor)
    assert par.get_executor("on").size == 1


def test_no_mpi4py(monkeypatch):
    _clear(monkeypatch)
    monkeypatch.setitem(sys.modules, "mpi4py", None)                      # import fails
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    assert isinstance(par.get_executor("auto"), par.SerialExecutor)       # launched but no mpi4py: serial
    with pytest.raises(ConfigError, match="mpi4py is not importable"):
        par.get_executor("on")


def test_serial_executor_api():
    ex = par.SerialExecutor()
    got = []
    ex.farm([3, 1, 2], lambda t: t * 10, lambda t, r, src: got.append((t, r, src)))
    assert got == [(3, 30, 0), (1, 10, 0), (2, 20, 0)]
    a = np.arange(4.0)
    assert ex.allreduce_sum(a) is a
    assert ex.bcast(5) == 5 and ex.gather(5) == [5] and ex.allgather(5) == [5]
    assert ex.barrier() is None and ex.service() is None
    assert par.collective_setup(ex, "demo", lambda: 7) == 7


def test_splits():
    for n, size in [(0, 1), (5, 2), (7, 3), (3, 5)]:
        parts = [par.chunk(n, r, size) for r in range(size)]
        assert np.concatenate(parts).tolist() == list(range(n))
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert [par.owner(i, 2) for i in range(4)] == [0, 1, 0, 1]
    ex = par.SerialExecutor()
    np.testing.assert_array_equal(par.gather_chunks(ex, np.ones((2, 3)), 3, axis=1), np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="expected 4"):
        par.gather_chunks(ex, np.ones(3), 4)
