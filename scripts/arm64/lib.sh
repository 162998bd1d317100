# shellcheck shell=bash disable=SC2016
# Host-side helpers of run.sh: preflight checks, the cached arm64 roots, their mounts, running
# commands inside them as an unprivileged user, and timed steps. Sourced, not run.
# The suite settings here are read by run.sh and report.sh, and run.sh sets SUITES and REPORT.
# shellcheck disable=SC2034,SC2153

BINFMT=/proc/sys/fs/binfmt_misc
BINFMT_CONF=/usr/lib/binfmt.d/qemu-aarch64.conf
# The ELF header of an aarch64 executable, as binfmt_misc shows a registration's magic.
AARCH64_MAGIC=7f454c460201010000000000000000000200b700
# The Raspberry Pi user: tests run unprivileged, since root reads files whatever their mode.
PI_UID=1000
# Emulation runs pysig tens of times slower than the host, so the per-test limit that turns a
# hang into a failure rises from 300 s to this, the short fuzz campaign shrinks from 3000
# cases to this many, and its limit per case rises from 60 s to this (a damaged slow.tflite
# that runs 1 s natively ran past 60 s). The report states all three.
EMULATED_TEST_TIMEOUT=3000
EMULATED_FUZZ_CASES=300
EMULATED_FUZZ_CASE_SECONDS=900
# The CPU qemu emulates: a Raspberry Pi 5's (PYSIG_ARM64_CPU overrides it). qemu's default,
# "max", has SVE and SME, which no Pi has: XNNPACK then picks kernels that are not the ones
# a Pi runs, and that qemu emulates over 7 times slower (one call of slow.tflite: 43 s on
# cortex-a76, over 300 s on max).
EMULATED_CPU=${PYSIG_ARM64_CPU:-cortex-a76}
# On an aarch64 host (a Raspberry Pi, an arm64 server or cloud machine) the roots run
# natively, with none of the above: no emulator, and the suite's own limits.
if [ "$(uname -m)" = aarch64 ]; then NATIVE=1; else NATIVE=0; fi
# Mounted in this order, unmounted in the reverse one.
ROOT_MOUNTS=(proc dev sys)

# The suites run.sh knows; the same package names exist in each.
declare -A SUITE_TITLES=([bookworm]='Debian 12 "bookworm"' [trixie]='Debian 13 "trixie"')
# Per suite: how its steps ended ("completed", "stopped after a failed step", "interrupted").
declare -A SUITE_END=()

# One record per step that ran or was skipped, in order; STEP_STATUS is an exit status or
# "skipped". CURRENT_STEP names the step running, for a report written on interruption.
STEP_SUITES=()
STEP_NAMES=()
STEP_STATUS=()
STEP_SECONDS=()
STEP_PID=
CURRENT_STEP=
CURRENT_START=0
LAST=0
LOCKED=0
REPORTED=0
APT_UPDATED=0

# The suite the next steps run on: its name, roots and log directory.
use_suite() {
  SUITE=$1
  BUILD_ROOT=$CACHE/$SUITE/root
  RUNTIME_ROOT=$CACHE/$SUITE/runtime-root
  LOGS=$RUN_LOGS/$SUITE
}

note() { printf '[arm64] %s\n' "$*"; }

refuse() {
  printf 'scripts/arm64/run.sh: cannot run: %s\n' "$*" >&2
  exit 2
}

# Runs "$@" in a subshell with errexit in force (it would be ignored in a caller's `if`) and
# records its status and elapsed time; LAST holds the status. Always returns 0.
step() {
  local name=$1 start=$SECONDS status=0
  shift
  note "== $SUITE: $name"
  CURRENT_STEP=$name
  CURRENT_START=$start
  ( set -e; "$@" ) &
  STEP_PID=$!
  wait "$STEP_PID" || status=$?
  STEP_PID=
  CURRENT_STEP=
  record_step "$name" "$status" "$((SECONDS - start))"
  LAST=$status
  [ "$status" -eq 0 ] || note "!! $SUITE: $name failed (status $status)"
}

record_step() {
  STEP_SUITES+=("$SUITE")
  STEP_NAMES+=("$1")
  STEP_STATUS+=("$2")
  STEP_SECONDS+=("$3")
}

skipped() { [[ " ${SKIP[*]} " == *" $1 "* ]]; }

# `step NAME FUNCTION...` unless PYSIG_ARM64_SKIP names KEY, in which case the step is
# recorded as skipped and LAST is left as it was.
optional() {
  local key=$1
  shift
  if skipped "$key"; then
    note "-- $SUITE: $1: skipped (PYSIG_ARM64_SKIP=${SKIP[*]})"
    record_step "$1" skipped 0
  else
    step "$@"
  fi
}

ok() { [ "$LAST" -eq 0 ]; }

# The first plain Debian archive among apt's sources (not -security, not third-party).
debian_mirror() {
  local files=() file
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] && files+=("$file")
  done
  [ "${#files[@]}" -gt 0 ] || return 0
  awk '
    /^[[:space:]]*#/ { next }
    $1 == "URIs:" || $1 == "deb" {
      for (i = 2; i <= NF; i++)
        if ($i ~ /^(https?|ftp):\/\/.*\/debian\/?$/) { sub(/\/$/, "", $i); print $i; exit }
    }' "${files[@]}"
}

check_reachable() {
  local what=$1 url=$2
  curl -fsS --max-time 30 -o /dev/null "$url" 2>/dev/null ||
    refuse "no network to $what ($url); pip and debootstrap need it"
}

apt_install() {
  note "installing $* with apt-get"
  if [ "$APT_UPDATED" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || refuse "apt-get update failed"
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    refuse "apt-get install $* failed"
}

# The binfmt_misc entry that runs aarch64 executables, if one is registered.
aarch64_entry() {
  grep -l "^magic $AARCH64_MAGIC" "$BINFMT"/* 2>/dev/null | head -n 1 || true
}

# Sets QEMU (the emulator, which the report names) and EMULATION_ENV (what in_root passes
# to it); natively both stay empty.
ensure_binfmt_aarch64() {
  EMULATION_ENV=()
  [ "$NATIVE" -eq 0 ] || return 0
  if [ ! -e "$BINFMT/status" ]; then
    mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null ||
      refuse "binfmt_misc is not mounted on $BINFMT and mounting it failed (in a container," \
        "run it privileged, or mount binfmt_misc on the host)"
  fi
  [ "$(cat "$BINFMT/status")" = enabled ] || refuse "binfmt_misc is disabled ($BINFMT/status)"
  if [ -z "$(aarch64_entry)" ]; then
    if ! command -v qemu-aarch64-static >/dev/null || ! command -v update-binfmts >/dev/null; then
      apt_install qemu-user-static binfmt-support
    fi
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  fi
  # qemu-user-static from Debian 13 (or bookworm-backports) ships a systemd-binfmt file
  # instead of an update-binfmts entry; without systemd, register it as systemd would.
  if [ -z "$(aarch64_entry)" ] && [ -f "$BINFMT_CONF" ]; then
    cat "$BINFMT_CONF" >"$BINFMT/register" || true
  fi
  local entry
  entry=$(aarch64_entry)
  [ -n "$entry" ] || refuse "aarch64 executables cannot run: no binfmt_misc registration for" \
    "them after installing qemu-user-static and binfmt-support (see" \
    "'update-binfmts --display qemu-aarch64')"
  [ "$(head -n 1 "$entry")" = enabled ] || refuse "$entry is registered but disabled"
  # Without F the kernel looks the interpreter up inside the chroot, where it does not exist.
  grep -q '^flags:.*F' "$entry" || refuse "$entry lacks the F (fix-binary) flag, so it cannot" \
    "run binaries inside a chroot; re-register it with 'update-binfmts --enable' from Debian's" \
    "qemu-user-static"
  EMULATION_ENV=(QEMU_CPU="$EMULATED_CPU")
  # Debian registers a link to qemu-aarch64-static, which answers --version only by that name.
  QEMU=$(readlink -f "$(sed -n 's/^interpreter //p' "$entry")")
  # LiteRT's compiled model dies with SIGSEGV under qemu-user 7.2 (Debian 12's), in
  # ai_edge_litert's own Python API as in pysig; 10.0 runs it.
  local version
  version=$("$QEMU" --version | sed -n 's/^qemu-aarch64 version \([0-9]*\)\..*/\1/p')
  [ "${version:-0}" -ge 10 ] || refuse "the registered aarch64 emulator is $("$QEMU" --version |
    head -n 1); LiteRT crashes under qemu-user older than 10.0. On Debian 12: add" \
    "bookworm-backports to apt's sources, 'apt-get install -t bookworm-backports" \
    "qemu-user-static', then 'update-binfmts --disable qemu-aarch64 && update-binfmts" \
    "--enable qemu-aarch64' so the kernel opens the new binary"
}

mounts_under() {
  findmnt -rn -o TARGET | awk -v dir="$1" '$0 == dir || index($0, dir "/") == 1'
}

# Deletes a root this script made (or a half-made one), never while something is mounted in it.
remove_root() {
  local dir=$1
  [ -e "$dir" ] || return 0
  [ -z "$(mounts_under "$dir")" ] || refuse "$dir has mounts inside; unmount them first"
  rm -rf --one-file-system "$dir"
}

# Creates the arm64 root DIR with PACKAGES, or reuses it when an earlier run made it with the
# same ones. debootstrap writes into DIR.partial, renamed only once complete.
ensure_root() {
  local dir=$1 packages=$2 marker
  local want="suite=$SUITE arch=arm64 variant=minbase include=$packages"
  marker=$dir/.pysig-root
  if [ -f "$marker" ] && [ "$(head -n 1 "$marker")" = "$want" ]; then
    note "reusing $dir ($(sed -n 2p "$marker"))"
    return 0
  fi
  if [ -e "$dir" ]; then
    [ -f "$marker" ] || [ -z "$(ls -A "$dir")" ] ||
      refuse "$dir exists and was not made by this script; remove it or set another path"
    note "$dir was made with other packages; rebuilding it"
    remove_root "$dir"
  fi
  remove_root "$dir.partial"
  mkdir -p "$(dirname "$dir")"
  note "debootstrap $SUITE arm64 into $dir (several minutes under emulation)"
  debootstrap --arch=arm64 --variant=minbase --include="$packages" "$SUITE" "$dir.partial" \
    "$MIRROR" >"$LOGS/debootstrap-$(basename "$dir").log" 2>&1
  [ "$(chroot "$dir.partial" /usr/bin/uname -m)" = aarch64 ]
  printf '%s\nmade %s from %s\n' "$want" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$MIRROR" >"$dir.partial/.pysig-root"
  mv "$dir.partial" "$dir"
}

# Network configuration, the user `pi`, an empty results directory, and /proc, /dev, /sys.
prepare_root() {
  local root=$1 name
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  # The host's bundle: it holds whatever CA the host's network needs for TLS.
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  for name in "${ROOT_MOUNTS[@]}"; do
    if ! mountpoint -q "$root/$name"; then
      mount --rbind "/$name" "$root/$name"
      # Unmounting must not propagate to the host's own submounts (/dev/pts, cgroups).
      mount --make-rslave "$root/$name"
    fi
  done
  chroot "$root" id -u pi >/dev/null 2>&1 ||
    chroot "$root" useradd --create-home --uid "$PI_UID" --user-group --shell /bin/bash pi
  rm -rf "$root/home/pi/results"
  install -d -o "$PI_UID" -g "$PI_UID" "$root/home/pi/results"
}

# The working tree as `git ls-files -co --exclude-standard` lists it: committed and
# uncommitted work, without ignored files (build directories, caches).
copy_tree() {
  local root=$1 dest=$1/home/pi/pysig
  rm -rf "$dest"
  mkdir -p "$dest"
  repo_git ls-files -co --exclude-standard -z |
    (
      cd "$REPO"
      # A tracked file deleted in the working tree is not part of the work under test.
      while IFS= read -r -d '' path; do
        if [ -e "$path" ] || [ -L "$path" ]; then printf '%s\0' "$path"; fi
      done
    ) |
    tar -C "$REPO" --null -T - -cf - | tar -C "$dest" -xf -
  chown -R "$PI_UID:$PI_UID" "$dest"
  echo "git $(repo_git rev-parse --short HEAD) plus $(repo_git --no-optional-locks status \
    --porcelain | wc -l) changed or untracked paths (the working tree was copied as" \
    "\`git ls-files -co --exclude-standard\` lists it)" >"$LOGS/source.txt"
  note "copied $(find "$dest" -type f | wc -l) files"
}

repo_git() { git -c safe.directory="$REPO" -C "$REPO" "$@"; }

# Runs SCRIPT with bash (errexit, pipefail) inside ROOT as the user pi, in a clean
# environment; the output goes to the terminal and to $LOGS/LOG.
in_root() {
  local root=$1 log=$LOGS/$2 script=$3
  chroot --userspec="$PI_UID:$PI_UID" --groups="$PI_UID" "$root" /usr/bin/env -i \
    HOME=/home/pi USER=pi LOGNAME=pi LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DEFAULT_TIMEOUT=180 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 "${EMULATION_ENV[@]}" \
    /bin/bash -euo pipefail -c "$script" 2>&1 | tee -a "$log"
}

record_versions() {
  local root=$1 which=$2
  in_root "$root" "versions-$which.log" '
    . ~/venv/bin/activate
    python - >~/results/versions.txt <<PY
import platform
from importlib import metadata

import numpy

# Runs the self-check of every installed runtime: one whose declarations do not match is
# refused, so asking for it below raises the AbiMismatchError of its check.
import pysig
from pysig.runtime.ops import installed_runtimes


def version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


print("machine:", platform.machine())
print("debian:", open("/etc/debian_version").read().strip())
print("python:", platform.python_version())
print("numpy:", numpy.__version__)
print("tflite-runtime:", version("tflite-runtime"))
print("ai-edge-litert:", version("ai-edge-litert"))
print("pysig:", pysig.__version__)
runtimes = installed_runtimes()
print("runtimes:", " ".join(runtimes) or "none")
for runtime in runtimes:
    add = pysig.Interpreter(pysig.DEMO_MODEL_PATH, runtime=runtime).get_signature_runner("add")
    print(f"demo add on {runtime}:", add(x=[[1, 2, 3, 4]], y=[[0.5] * 4])["sum"].tolist())
print("auto picks:", pysig.Interpreter(pysig.DEMO_MODEL_PATH).runtime)
PY
    echo "pip: $(pip --version | cut -d" " -f2)" >>~/results/versions.txt
    if command -v gcc >/dev/null; then
      echo "gcc: $(gcc -dumpfullversion) ($(gcc -dumpmachine))" >>~/results/versions.txt
      echo "cmake: $(cmake --version | head -n 1 | cut -d" " -f3)" >>~/results/versions.txt
    else
      echo "gcc: none (no compiler in this root)" >>~/results/versions.txt
    fi
    cat ~/results/versions.txt'
  cp "$root/home/pi/results/versions.txt" "$LOGS/versions-$which.txt"
}

run_tests() {
  local root=$1 which=$2
  in_root "$root" "pytest-$which.log" ". ~/venv/bin/activate && cd ~/pysig && $(pytest_command)"
}

# The suite's command line, with the emulation limits when emulating; the report quotes it.
pytest_command() {
  if [ "$NATIVE" -eq 1 ]; then
    echo "python -m pytest ${PYTEST_ARGS:-$(suite_order)}"
  else
    echo "PYSIG_FUZZ_CASES=$EMULATED_FUZZ_CASES PYSIG_FUZZ_CASE_SECONDS=$EMULATED_FUZZ_CASE_SECONDS" \
      "python -m pytest --timeout=$EMULATED_TEST_TIMEOUT ${PYTEST_ARGS:-$(suite_order)}"
  fi
}

# The whole suite with the front ends' tests last (tests/serve and tests/batch start servers
# and clusters of emulated Python processes, the slowest part): a run stopped early has
# then passed or failed the core. Every folder of tests/ holding test files is listed.
suite_order() {
  local first=() dir
  while IFS= read -r dir; do
    case $dir in tests/serve | tests/batch) ;; *) first+=("$dir") ;; esac
  done < <(cd "$REPO" && find tests -mindepth 2 -name 'test_*.py' -printf '%h\n' | sort -u)
  echo "tests/test_*.py ${first[*]} tests/serve tests/batch"
}

# Ends what this run started inside the roots, then unmounts, in reverse order; safe to
# run twice and after a partial setup. An interrupted run still writes its report.
cleanup() {
  local status=$? root name pids i suite roots=()
  trap - EXIT INT TERM
  if [ "$LOCKED" -eq 1 ]; then
    # shellcheck disable=SC2046  # one pid a word
    [ -z "$STEP_PID" ] || kill -TERM $(process_tree "$STEP_PID") 2>/dev/null || true
    for suite in "${SUITES[@]}"; do
      # debootstrap's second stage runs chrooted in the .partial directory and mounts there.
      roots+=("$CACHE/$suite/root" "$CACHE/$suite/root.partial" "$CACHE/$suite/runtime-root"
        "$CACHE/$suite/runtime-root.partial")
    done
    for root in "${roots[@]}"; do
      [ -d "$root" ] || continue
      for i in 1 2 3 4 5 6 7 8 9 10 11; do
        pids=$(root_pids "$root")
        [ -n "$pids" ] || break
        # shellcheck disable=SC2086
        if [ "$i" -le 10 ]; then kill -TERM $pids 2>/dev/null || true; sleep 1
        else kill -KILL $pids 2>/dev/null || true; sleep 1; fi
      done
      # Deepest first, which undoes ROOT_MOUNTS and debootstrap's own mounts alike.
      for name in $(mounts_under "$root" | sort -r); do
        umount "$name" 2>/dev/null || umount -l "$name" || note "could not unmount $name"
      done
      [ -z "$(mounts_under "$root")" ] || note "still mounted under $root: $(mounts_under "$root")"
    done
    if [ "$REPORTED" -eq 0 ] && [ -n "${STARTED:-}" ]; then
      if [ -n "${SUITE:-}" ]; then
        SUITE_END["$SUITE"]=interrupted
        [ -z "$CURRENT_STEP" ] || record_step "$CURRENT_STEP" interrupted "$((SECONDS - CURRENT_START))"
      fi
      write_report
      note "report (interrupted run): $REPORT"
    fi
  fi
  exit "$status"
}

# PID and its descendants, children first: a step's subshell does not pass on a signal.
process_tree() {
  local child
  for child in $(ps -o pid= --ppid "$1"); do
    process_tree "$child"
  done
  echo "$1"
}

# Processes whose root directory is ROOT: the ones this run started with chroot.
root_pids() {
  local root pid_dir
  root=$(realpath "$1")
  for pid_dir in /proc/[0-9]*; do
    [ "$(readlink "$pid_dir/root" 2>/dev/null)" = "$root" ] && printf '%s ' "${pid_dir#/proc/}"
  done
  return 0
}
