#!/usr/bin/env bash
# The demo run by `make demo` (environment prepared by the Makefile): forward CLM5 runs,
# then the main job, a Bayesian calibration of CLM5 against the real ISRaD soil profiles
# shipped in pysoc/data/profiles, on NP MPI ranks (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
NP=${NP:-2}
echo "== CLM5 steady state (namelists/clm5_steady_state.nml)"
pysoc-run namelists/clm5_steady_state.nml
echo
echo "== CLM5 transient (namelists/clm5_transient.nml)"
pysoc-run namelists/clm5_transient.nml
echo
echo "== CLM5 Bayesian calibration on the shipped ISRaD profiles (namelists/calibrate_clm5_demo.nml, $NP ranks)"
mpirun --oversubscribe -n "$NP" python -m mpi4py -m pysoc.cli.calibrate namelists/calibrate_clm5_demo.nml
