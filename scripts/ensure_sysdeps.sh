#!/usr/bin/env bash
# System packages pysoc needs to build: a Fortran compiler, Open MPI (headers for mpi4py,
# mpirun for parallel calibration) and a Python with venv and headers.
# Installs them with apt when run as root; otherwise names what is missing and fails.
set -euo pipefail
PYTHON=${PYTHON:-python3}
need=()
command -v gfortran >/dev/null 2>&1 || need+=(gfortran)
command -v mpicc >/dev/null 2>&1 || need+=(libopenmpi-dev)
command -v mpirun >/dev/null 2>&1 || need+=(openmpi-bin)
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then need+=(python3-venv); fi
if ! "$PYTHON" -c 'import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' >/dev/null 2>&1; then
  need+=(python3-dev)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "pysoc: installing system packages: ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "pysoc: missing system packages: ${need[*]}" >&2
  echo "pysoc: install them first, e.g.: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
