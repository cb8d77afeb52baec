#!/usr/bin/env bash
# Set-up for a fresh Debian machine with Node 20: the Debian packages, then `npm install`.
# The README's two commands and .ci/run call this script, so CI installs exactly what a user does.
#
#   scripts/setup.sh           what the tools and the dashboard need (the native tensor backend's
#                              compilers and libraries), then npm install
#   scripts/setup.sh --test    also what the tests need (unyaffs, chromium, the Fashion-MNIST data, GNU parallel)
#   scripts/setup.sh --dry-run print the Debian packages it would install and the commands, change nothing
#
# Debian packages are installed with apt-get, through sudo when not root. When neither works it
# stops with the list of packages to install by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
dry_run=0
for arg in "$@"; do
  case "$arg" in
    --test) want_tests=1 ;;
    --dry-run) dry_run=1 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown option '$arg' (use --test, --dry-run or --help)" >&2; exit 2 ;;
  esac
done

# g++ make python3 libopenblas-dev libdnnl-dev: packages/diffusion-native compiles its addon at
#   install time; without them it is skipped and the slower wasm backend is used.
packages=(g++ make python3 libopenblas-dev libdnnl-dev)
if [ "$want_tests" = 1 ]; then
  # unyaffs: the YAFFS2 interoperability test extracts our images with it.
  # chromium: the dashboard's browser test drives it through playwright-core.
  # dataset-fashion-mnist: the Fashion-MNIST data set (Debian ships its files) for the diffusion data loaders.
  # parallel: the ssdsim README's GNU parallel sweep line is run as written.
  packages+=(unyaffs chromium dataset-fashion-mnist parallel)
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$dry_run" = 1 ]; then
    echo "setup: would install Debian packages: ${missing[*]}"
  else
    sudo_cmd=()
    if [ "$(id -u)" != "0" ]; then
      if command -v sudo >/dev/null 2>&1; then
        sudo_cmd=(sudo)
      else
        echo "setup: these Debian packages are missing: ${missing[*]}" >&2
        echo "setup: not root and sudo is not installed; as root run: apt-get install ${missing[*]}" >&2
        exit 1
      fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
      echo "setup: these Debian packages are missing: ${missing[*]}" >&2
      echo "setup: apt-get was not found (not Debian?); install their equivalents, then rerun" >&2
      exit 1
    fi
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    if ! DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -qq ||
       ! DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
      echo "setup: apt-get could not install: ${missing[*]} (see its message above); install them by hand, then rerun" >&2
      exit 1
    fi
  fi
else
  echo "setup: Debian packages present: ${packages[*]}" >&2
fi

# onnxruntime-node ships its CPU binaries inside the npm package; its install script would only
# download GPU ones, so it is skipped (package.json's allowScripts says the same for npm 12).
if [ "$dry_run" = 1 ]; then
  echo "setup: would run: ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund"
else
  ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund
fi
