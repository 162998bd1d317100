#!/usr/bin/env bash
# Maintainer proof that pysig builds and passes its tests on 64-bit ARM (Debian 12
# "bookworm", the base of Raspberry Pi OS), on an x86_64 host through qemu-user emulation.
#
#   sudo scripts/arm64/run.sh
#
# Two arm64 roots are debootstrapped once and cached (a rerun reuses them):
#   - the build root (python3, python3-venv, python3-dev, g++, cmake): pysig is installed from
#     the working tree with a plain `pip install ./pysig[test]`, as on a Raspberry Pi, then the
#     test suite and `pysig bench` run, and a binary wheel is built and inspected;
#   - the runtime root (python3, python3-venv only: no compiler, no headers, no cmake): the
#     wheel is installed into a fresh virtualenv with --only-binary and the test suite runs.
# A separate root, rather than the build root with g++ hidden from PATH, so that nothing a
# build could fall back on (cc, Python.h, cmake) exists at all.
#
# Writes scripts/arm64/REPORT.md; full logs go to $PYSIG_ARM64_CACHE/logs/<UTC time>/.
# Environment:
#   PYSIG_ARM64_CACHE         cache directory (default /var/cache/pysig-arm64)
#   PYSIG_ARM64_ROOT          build root (default $PYSIG_ARM64_CACHE/root)
#   PYSIG_ARM64_RUNTIME_ROOT  compiler-free root (default $PYSIG_ARM64_CACHE/runtime-root)
#   PYSIG_ARM64_MIRROR        Debian mirror (default: the first .../debian of the apt sources)
# Delete a root directory to rebuild it. Exit status: 0 when every step passed, 1 when a step
# failed (see the report), 2 when it cannot run, 130/143 when interrupted.

# The scripts in single quotes expand inside the root; step calls functions indirectly.
# shellcheck disable=SC2016,SC2317
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=report.sh
source "$HERE/report.sh"

REPO=$(git -c safe.directory="*" -C "$HERE" rev-parse --show-toplevel)
CACHE=${PYSIG_ARM64_CACHE:-/var/cache/pysig-arm64}
BUILD_ROOT=${PYSIG_ARM64_ROOT:-$CACHE/root}
RUNTIME_ROOT=${PYSIG_ARM64_RUNTIME_ROOT:-$CACHE/runtime-root}
SUITE=bookworm
BUILD_PACKAGES=python3,python3-venv,python3-dev,g++,cmake,ca-certificates
RUNTIME_PACKAGES=python3,python3-venv,ca-certificates
REPORT=$HERE/REPORT.md

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

preflight() {
  [ "$(id -u)" -eq 0 ] || refuse "must run as root (debootstrap, chroot and mount need it): sudo $0"
  local tool
  for tool in git curl chroot mount umount findmnt flock tar; do
    command -v "$tool" >/dev/null || refuse "'$tool' is not installed"
  done
  MIRROR=${PYSIG_ARM64_MIRROR:-$(debian_mirror)}
  [ -n "$MIRROR" ] || refuse "no Debian mirror in /etc/apt/sources.list*; set PYSIG_ARM64_MIRROR"
  check_reachable "the Debian mirror" "$MIRROR/dists/$SUITE/Release"
  check_reachable "PyPI" "https://pypi.org/simple/pip/"
  check_reachable "PyPI's file host" "https://files.pythonhosted.org/"
  ensure_binfmt_aarch64
  command -v debootstrap >/dev/null || apt_install debootstrap
}

main() {
  preflight
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock -n 9 || refuse "another run holds $CACHE/.lock"
  LOCKED=1
  LOGS=$CACHE/logs/$(date -u +%Y%m%dT%H%M%SZ)
  mkdir -p "$LOGS"
  STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
  note "logs: $LOGS"

  step "build root: debootstrap or reuse" ensure_root "$BUILD_ROOT" "$BUILD_PACKAGES"
  ok || finish
  step "runtime root: debootstrap or reuse" ensure_root "$RUNTIME_ROOT" "$RUNTIME_PACKAGES"
  ok || finish
  step "prepare the roots (network, user pi, mounts)" prepare_roots
  ok || finish
  step "copy the working tree" copy_tree "$BUILD_ROOT"
  ok || finish

  step "pip install ./pysig[test] (build from source)" in_root "$BUILD_ROOT" install.log '
    rm -rf ~/venv && python3 -m venv ~/venv && . ~/venv/bin/activate
    cd ~ && pip install -v "./pysig[test]"'
  ok || finish
  step "import pysig (ABI self-check), versions" record_versions "$BUILD_ROOT" build
  step "pytest (build root)" run_tests "$BUILD_ROOT" build
  step "pysig bench --runs 200" in_root "$BUILD_ROOT" bench.log '
    . ~/venv/bin/activate && pysig bench --runs 200 | tee ~/results/bench.txt'
  step "pysig bench --runs 200 --compare" in_root "$BUILD_ROOT" bench-compare.log '
    . ~/venv/bin/activate && pysig bench --runs 200 --compare | tee ~/results/bench-compare.txt'
  step "pip wheel --no-deps, inspect the wheel" build_wheel
  ok || finish
  step "copy the tests and the wheel to the runtime root" copy_to_runtime_root
  ok || finish
  step "no-compiler root: install the wheel" in_root "$RUNTIME_ROOT" wheel-install.log '
    for tool in cc gcc g++ c++ clang cmake ld; do
      if command -v "$tool"; then echo "a compiler tool is present: $tool" >&2; exit 1; fi
    done
    include=$(python3 -c "import sysconfig; print(sysconfig.get_paths()[\"include\"])")
    if [ -e "$include/Python.h" ]; then echo "Python headers are present" >&2; exit 1; fi
    rm -rf ~/venv && python3 -m venv ~/venv && . ~/venv/bin/activate
    pip install --only-binary :all: "$(ls ~/wheelhouse/pysig-*.whl)[test]"'
  ok || finish
  step "no-compiler root: import pysig, versions" record_versions "$RUNTIME_ROOT" runtime
  step "pytest (no-compiler root, wheel)" run_tests "$RUNTIME_ROOT" runtime
  finish
}

# Builds the wheel in the build root, from scratch like a fresh clone, and checks that it
# links to, but does not vendor, tflite_runtime's library.
build_wheel() {
  in_root "$BUILD_ROOT" wheel.log '
    . ~/venv/bin/activate && cd ~
    rm -rf ~/wheelhouse ~/pysig/build && pip wheel --no-deps -w ~/wheelhouse ./pysig
    wheel=$(ls ~/wheelhouse/pysig-*.whl)
    python -m zipfile -l "$wheel" | tee ~/results/wheel-contents.txt
    if grep _pywrap_tensorflow_interpreter_wrapper ~/results/wheel-contents.txt; then
      echo "the wheel vendors tflite_runtime'"'"'s library" >&2; exit 1
    fi
    rm -rf ~/wheel-unpacked && python -m zipfile -e "$wheel" ~/wheel-unpacked
    readelf -d ~/wheel-unpacked/pysig/_pysig*.so | grep -E "NEEDED|RUNPATH|RPATH" |
      tee ~/results/wheel-elf.txt
    grep -q "NEEDED.*_pywrap_tensorflow_interpreter_wrapper.so" ~/results/wheel-elf.txt
    grep -q "PATH.*\$ORIGIN/../tflite_runtime" ~/results/wheel-elf.txt
    rm -rf ~/wheel-unpacked'
}

prepare_roots() {
  prepare_root "$BUILD_ROOT"
  prepare_root "$RUNTIME_ROOT"
}

copy_to_runtime_root() {
  local home=$RUNTIME_ROOT/home/pi
  rm -rf "$home/pysig" "$home/wheelhouse" "$home/results"
  mkdir -p "$home/pysig" "$home/wheelhouse" "$home/results"
  # Only the tests and pytest's configuration: pysig itself must come from the wheel.
  cp -a "$BUILD_ROOT/home/pi/pysig/pyproject.toml" "$BUILD_ROOT/home/pi/pysig/tests" "$home/pysig/"
  cp -a "$BUILD_ROOT"/home/pi/wheelhouse/pysig-*.whl "$home/wheelhouse/"
  chown -R "$PI_UID:$PI_UID" "$home"
}

finish() {
  write_report
  note "report: $REPORT"
  local status
  for status in "${STEP_STATUS[@]}"; do
    [ "$status" -eq 0 ] || exit 1
  done
  exit 0
}

main "$@"
