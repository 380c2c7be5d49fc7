#!/usr/bin/env bash
# Sets up pyedge in ./.venv on a Debian/Ubuntu machine: system packages it lacks (compiler,
# CMake, Python venv/headers), the Python dependencies (incl. the test oracle), and the C core.
# Idempotent: re-run it after changing C sources.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
apt_pkgs=()
command -v gcc >/dev/null 2>&1 && command -v make >/dev/null 2>&1 \
  && echo '#include <stdio.h>' | gcc -E - >/dev/null 2>&1 || apt_pkgs+=(build-essential)
command -v cmake >/dev/null 2>&1 || apt_pkgs+=(cmake)
command -v "$PY" >/dev/null 2>&1 || apt_pkgs+=(python3)
if command -v "$PY" >/dev/null 2>&1; then
  "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_pkgs+=(python3-venv)
  "$PY" -c 'import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' \
    >/dev/null 2>&1 || apt_pkgs+=(python3-dev)
fi
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${apt_pkgs[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}"
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# editable install: compiles native/ into the cffi extension pyedge._pyedge_c
# (with TFLM for tools/arena_vs_tflm.py when its pinned nightly installs; its tests skip if not)
.venv/bin/python -m pip install -q -e ".[test,tflm]" || {
  echo "setup: tflite-micro not installable; the TFLM arena comparison tests will skip"
  .venv/bin/python -m pip install -q -e ".[test]"
}
echo "setup: done ($(.venv/bin/python -c 'import pyedge; print("pyedge", pyedge.__version__)'))"
