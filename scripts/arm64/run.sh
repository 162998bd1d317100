#!/usr/bin/env bash
# Maintainer proof that pysig builds and passes its tests on 64-bit ARM: natively on an
# aarch64 host (a Raspberry Pi with a 64-bit kernel, an arm64 server), or through qemu-user
# emulation on any other, on each Debian suite of PYSIG_ARM64_SUITES:
#   - bookworm (Debian 12, Python 3.11, numpy 1): both runtimes, tflite-runtime and LiteRT;
#   - trixie (Debian 13, Python 3.13, numpy 2, today's Raspberry Pi OS base): LiteRT only,
#     as pyproject installs tflite-runtime only on Python < 3.12.
#
#   sudo scripts/arm64/run.sh
#
# For each suite, two arm64 roots are debootstrapped once and cached (a rerun reuses them):
#   - the build root (python3, python3-venv, python3-dev, g++, cmake): pysig is installed from
#     the working tree with a plain `pip install ./pysig[test]`, as on a Raspberry Pi, then the
#     test suite and `pysig bench` run, and a binary wheel is built and inspected;
#   - the runtime root (python3, python3-venv only: no compiler, no headers, no cmake): the
#     wheel is installed into a fresh virtualenv with --only-binary and the test suite runs.
# A separate root, rather than the build root with g++ hidden from PATH, so that nothing a
# build could fall back on (cc, Python.h, cmake) exists at all.
#
# Writes scripts/arm64/REPORT.md (also when a step fails or the run is interrupted: it lists
# what ran and what did not); full logs go to $PYSIG_ARM64_CACHE/logs/<UTC time>/<suite>/.
# Environment:
#   PYSIG_ARM64_SUITES        Debian suites, in order (default "bookworm trixie")
#   PYSIG_ARM64_CACHE         cache directory (default /var/cache/pysig-arm64); the roots are
#                             <cache>/<suite>/root and <cache>/<suite>/runtime-root
#   PYSIG_ARM64_MIRROR        Debian mirror (default: the first .../debian of the apt sources)
#   PYSIG_ARM64_SKIP          steps not to run, among: pytest, bench, no-compiler (the report
#                             counts them as skipped and the run as partial)
#   PYSIG_ARM64_PYTEST_ARGS   pytest arguments instead of the whole suite (which runs the
#                             front ends' tests last), e.g. a subset: "tests/test_views.py"
#                             (the report quotes them: a subset is not the suite)
#   PYSIG_ARM64_CPU           the CPU qemu emulates (default cortex-a76, a Raspberry Pi 5's);
#                             unused on an aarch64 host, where nothing is emulated
# Delete a root directory to rebuild it. Exit status: 0 when every step that ran passed, 1
# when a step failed (see the report), 2 when it cannot run, 130/143 when interrupted.

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
read -r -a SUITES <<<"${PYSIG_ARM64_SUITES:-bookworm trixie}"
read -r -a SKIP <<<"${PYSIG_ARM64_SKIP:-}"
PYTEST_ARGS=${PYSIG_ARM64_PYTEST_ARGS:-}
BUILD_PACKAGES=python3,python3-venv,python3-dev,g++,cmake,ca-certificates
RUNTIME_PACKAGES=python3,python3-venv,ca-certificates
REPORT=$HERE/REPORT.md

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

preflight() {
  [ "$(id -u)" -eq 0 ] || refuse "must run as root (debootstrap, chroot and mount need it): sudo $0"
  local tool
  for tool in git curl chroot mount umount findmnt flock tar ps; do
    command -v "$tool" >/dev/null || refuse "'$tool' is not installed"
  done
  [ "${#SUITES[@]}" -gt 0 ] || refuse "PYSIG_ARM64_SUITES is empty"
  local suite key
  for suite in "${SUITES[@]}"; do
    [ -n "${SUITE_TITLES[$suite]:-}" ] ||
      refuse "unknown suite '$suite' in PYSIG_ARM64_SUITES (known: ${!SUITE_TITLES[*]})"
  done
  for key in "${SKIP[@]}"; do
    case $key in pytest | bench | no-compiler) ;; *) refuse "unknown step '$key' in PYSIG_ARM64_SKIP" ;; esac
  done
  MIRROR=${PYSIG_ARM64_MIRROR:-$(debian_mirror)}
  [ -n "$MIRROR" ] || refuse "no Debian mirror in /etc/apt/sources.list*; set PYSIG_ARM64_MIRROR"
  for suite in "${SUITES[@]}"; do
    check_reachable "the Debian mirror" "$MIRROR/dists/$suite/Release"
  done
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
  RUN_LOGS=$CACHE/logs/$(date -u +%Y%m%dT%H%M%SZ)
  mkdir -p "$RUN_LOGS"
  STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
  note "logs: $RUN_LOGS"
  local suite
  for suite in "${SUITES[@]}"; do
    run_suite "$suite"
  done
  finish
}

# The steps on one suite; after a failed step that later ones need, the suite stops there
# (the report says so) and the next suite runs.
run_suite() {
  use_suite "$1"
  mkdir -p "$LOGS"
  SUITE_END["$SUITE"]="stopped after a failed step"
  step "build root: debootstrap or reuse" ensure_root "$BUILD_ROOT" "$BUILD_PACKAGES"
  ok || return 0
  optional no-compiler "runtime root: debootstrap or reuse" ensure_root "$RUNTIME_ROOT" "$RUNTIME_PACKAGES"
  ok || return 0
  step "prepare the roots (network, user pi, mounts)" prepare_roots
  ok || return 0
  step "copy the working tree" copy_tree "$BUILD_ROOT"
  ok || return 0

  step "pip install ./pysig[test] (build from source)" in_root "$BUILD_ROOT" install.log '
    rm -rf ~/venv && python3 -m venv ~/venv && . ~/venv/bin/activate
    cd ~ && pip install -v "./pysig[test]"'
  ok || return 0
  step "import pysig (self-checks), versions" record_versions "$BUILD_ROOT" build
  optional pytest "pytest (build root)" run_tests "$BUILD_ROOT" build
  optional bench "pysig bench --runs 200" in_root "$BUILD_ROOT" bench.log '
    . ~/venv/bin/activate && pysig bench --runs 200 | tee ~/results/bench.txt'
  optional bench "pysig bench --runs 200 --compare" in_root "$BUILD_ROOT" bench-compare.log '
    . ~/venv/bin/activate && pysig bench --runs 200 --compare | tee ~/results/bench-compare.txt'
  step "pip wheel --no-deps, inspect the wheel" build_wheel
  ok || return 0
  SUITE_END["$SUITE"]=completed
  optional no-compiler "copy the tests and the wheel to the runtime root" copy_to_runtime_root
  ok || { SUITE_END["$SUITE"]="stopped after a failed step"; return 0; }
  optional no-compiler "no-compiler root: install the wheel" in_root "$RUNTIME_ROOT" wheel-install.log '
    for tool in cc gcc g++ c++ clang cmake ld; do
      if command -v "$tool"; then echo "a compiler tool is present: $tool" >&2; exit 1; fi
    done
    include=$(python3 -c "import sysconfig; print(sysconfig.get_paths()[\"include\"])")
    if [ -e "$include/Python.h" ]; then echo "Python headers are present" >&2; exit 1; fi
    rm -rf ~/venv && python3 -m venv ~/venv && . ~/venv/bin/activate
    pip install --only-binary :all: "$(ls ~/wheelhouse/pysig-*.whl)[test]"'
  ok || { SUITE_END["$SUITE"]="stopped after a failed step"; return 0; }
  optional no-compiler "no-compiler root: import pysig, versions" record_versions "$RUNTIME_ROOT" runtime
  if skipped pytest; then
    optional pytest "pytest (no-compiler root, wheel)" run_tests "$RUNTIME_ROOT" runtime
  else
    optional no-compiler "pytest (no-compiler root, wheel)" run_tests "$RUNTIME_ROOT" runtime
  fi
}

# Builds the wheel in the build root, from scratch like a fresh clone, and checks that it
# neither vendors nor links against either runtime's library: the extension resolves their
# symbols at run time from the installed tflite_runtime / ai_edge_litert packages.
build_wheel() {
  in_root "$BUILD_ROOT" wheel.log '
    . ~/venv/bin/activate && cd ~
    rm -rf ~/wheelhouse ~/pysig/build && pip wheel --no-deps -w ~/wheelhouse ./pysig
    wheel=$(ls ~/wheelhouse/pysig-*.whl)
    python -m zipfile -l "$wheel" | tee ~/results/wheel-contents.txt
    if grep -E "_pywrap_tensorflow_interpreter_wrapper|libLiteRt|pywrap_litert|tensorflowlite" ~/results/wheel-contents.txt; then
      echo "the wheel vendors a runtime'"'"'s library" >&2; exit 1
    fi
    rm -rf ~/wheel-unpacked && python -m zipfile -e "$wheel" ~/wheel-unpacked
    readelf -d ~/wheel-unpacked/pysig/_pysig*.so | grep -E "NEEDED|RUNPATH|RPATH" |
      tee ~/results/wheel-elf.txt
    if grep -E "NEEDED.*(_pywrap_tensorflow_interpreter_wrapper|libLiteRt|pywrap_litert|tensorflowlite)|PATH.*(tflite_runtime|ai_edge_litert)" \
      ~/results/wheel-elf.txt; then
      echo "the extension links against a runtime'"'"'s library" >&2; exit 1
    fi
    rm -rf ~/wheel-unpacked'
}

prepare_roots() {
  prepare_root "$BUILD_ROOT"
  skipped no-compiler || prepare_root "$RUNTIME_ROOT"
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
  REPORTED=1
  note "report: $REPORT"
  local status
  for status in "${STEP_STATUS[@]}"; do
    [ "$status" = 0 ] || [ "$status" = skipped ] || exit 1
  done
  exit 0
}

main "$@"
