#!/usr/bin/env bash
# Installs everything hg_jax needs on a fresh Debian machine with Python >= 3.10: headless GL
# (EGL + OSMesa fallback) from apt, then the package with its test extras from PyPI.
# Idempotent: a second run only checks. Set HG_JAX_SKIP_APT=1 where apt is not yours to run.
set -euo pipefail
cd "$(dirname "$0")"
if [ "${HG_JAX_SKIP_APT:-0}" != "1" ] && command -v apt-get >/dev/null; then
  pkgs="libegl1 libegl-mesa0 libgl1 libosmesa6"
  if ! dpkg -s $pkgs >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $pkgs >/dev/null
  fi
fi
PIP_ROOT_USER_ACTION=ignore python -m pip install -q --disable-pip-version-check -e ".[test]"
python -c "import hg_jax, jax, pyrender, manifold3d, mitsuba; print('hg_jax setup ok: jax', jax.__version__)"
