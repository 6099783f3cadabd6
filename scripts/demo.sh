#!/usr/bin/env bash
# The demo run by `make demo` (environment prepared by the Makefile).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== CLM5 steady state (namelists/clm5_steady_state.nml)"
pysoc-run namelists/clm5_steady_state.nml
echo
echo "== CLM5 transient (namelists/clm5_transient.nml)"
pysoc-run namelists/clm5_transient.nml
