# shellcheck shell=bash
# Writes run.sh's Markdown report from its step records, the results the steps left in the
# roots and the logs. Sourced, not run.

write_report() {
  local build=$BUILD_ROOT/home/pi/results runtime=$RUNTIME_ROOT/home/pi/results
  local i failed=0
  for i in "${!STEP_STATUS[@]}"; do
    [ "${STEP_STATUS[i]}" -eq 0 ] || failed=$((failed + 1))
  done
  {
    echo "# pysig on arm64 (Debian 12 under emulation): report"
    echo
    echo "Written by \`scripts/arm64/run.sh\`, started $STARTED, finished" \
      "$(date -u '+%Y-%m-%d %H:%M UTC'). The arm64 roots are Debian 12 \"bookworm\"" \
      "(Raspberry Pi OS's base) debootstrapped with \`--variant=minbase\`, run through" \
      "qemu-user on an $(uname -m) host ($(nproc) cores, $(cpu_model)): timings are those of" \
      "emulation, not of a Raspberry Pi."
    echo
    echo "- Source: $(source_description)"
    echo "- Emulator: $("$QEMU" --version | head -n 1)"
    echo "- Logs: \`$LOGS\`"
    if [ "$failed" -eq 0 ]; then
      echo "- Result: **all ${#STEP_STATUS[@]} steps passed**"
    else
      echo "- Result: **$failed of ${#STEP_STATUS[@]} steps failed**"
    fi
    echo
    echo "## Steps"
    echo
    echo "| Step | Result | Elapsed |"
    echo "|---|---|---|"
    for i in "${!STEP_NAMES[@]}"; do
      echo "| ${STEP_NAMES[i]} | $(result_of "${STEP_STATUS[i]}") | $(minutes "${STEP_SECONDS[i]}") |"
    done
    echo
    echo "## Versions"
    echo
    echo "| | build root (from source) | no-compiler root (wheel) |"
    echo "|---|---|---|"
    local key
    for key in machine debian python pip numpy tflite-runtime pysig gcc cmake; do
      echo "| $key | $(field "$key" "$build/versions.txt") | $(field "$key" "$runtime/versions.txt") |"
    done
    echo
    echo "## Test suite (\`python -m pytest\`)"
    echo
    echo "Run as \`PYSIG_FUZZ_CASES=$EMULATED_FUZZ_CASES python -m pytest" \
      "--timeout=$EMULATED_TEST_TIMEOUT\`: under emulation the short fuzz campaign has" \
      "$EMULATED_FUZZ_CASES cases instead of 3000, and a test counts as hung after" \
      "$EMULATED_TEST_TIMEOUT s instead of 300 s. Nothing else differs from the host's suite."
    echo
    echo "- Build root, pysig built from source by \`pip install ./pysig[test]\`:" \
      "$(pytest_summary "$LOGS/pytest-build.log")"
    echo "- No-compiler root, pysig from the wheel:" \
      "$(pytest_summary "$LOGS/pytest-runtime.log")"
    pytest_details "build root" "$LOGS/pytest-build.log"
    pytest_details "no-compiler root" "$LOGS/pytest-runtime.log"
    echo
    echo "## ABI checks on aarch64"
    echo
    echo "- \`import pysig\` runs the self-check of pysig's runtime declarations against" \
      "tflite_runtime's API (every tensor of the demo model, the signatures' subgraphs, one" \
      "signature's values): $(abi_result "$build/versions.txt") in the build root," \
      "$(abi_result "$runtime/versions.txt") in the no-compiler root."
    echo "- The $(static_assert_count) \`static_assert\`s in \`third_party/tflite_abi/\` and" \
      "\`src/cpp/\`: $(result_of "$(status_of "pip install ./pysig[test] (build from source)")")" \
      "(they are checked when the extension compiles for aarch64)."
    echo
    bench_section "\`pysig bench --runs 200\` (demo model, signature \`add\`)" "$build/bench.txt"
    bench_section "\`pysig bench --runs 200 --compare\`" "$build/bench-compare.txt"
    wheel_section "$build"
  } >"$REPORT"
}

field() {
  local value=
  [ ! -f "$2" ] || value=$(sed -n "s/^$1: //p" "$2" | head -n 1)
  echo "${value:--}"
}

abi_result() {
  if [ -f "$1" ] && grep -q '^pysig: ' "$1"; then echo "passed"; else echo "not reached"; fi
}

status_of() {
  local i
  for i in "${!STEP_NAMES[@]}"; do
    [ "${STEP_NAMES[i]}" != "$1" ] || { echo "${STEP_STATUS[i]}"; return 0; }
  done
  echo none
}

result_of() {
  case $1 in
    0) echo "passed" ;;
    none) echo "not reached" ;;
    *) echo "**FAILED** (status $1)" ;;
  esac
}

minutes() { printf '%d:%02d' "$(($1 / 60))" "$(($1 % 60))"; }

cpu_model() {
  sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1
}

# What copy_tree recorded when it copied the tree: HEAD may have moved on since.
source_description() {
  if [ -f "$LOGS/source.txt" ]; then cat "$LOGS/source.txt"; else echo "not copied"; fi
}

static_assert_count() {
  grep -rho 'static_assert' "$REPO/third_party/tflite_abi" "$REPO/src/cpp" | wc -l
}

pytest_summary() {
  [ -f "$1" ] || { echo "not run"; return 0; }
  local line
  line=$(grep -E '^=+ .* in [0-9.]+s' "$1" | tail -n 1 | sed -E 's/^=+ //; s/ =+$//' || true)
  echo "**${line:-no summary line, see $(basename "$1")}**"
}

# Every test that did not simply pass, from pytest's -ra summary.
pytest_details() {
  [ -f "$2" ] || return 0
  local lines
  lines=$(sed -n '/short test summary info/,$p' "$2" |
    grep -E '^(FAILED|ERROR|XPASS|XFAIL|SKIPPED)' | head -n 60 || true)
  [ -n "$lines" ] || return 0
  echo
  echo "Not passed in the $1:"
  echo
  echo '```text'
  echo "$lines"
  echo '```'
}

bench_section() {
  [ -f "$2" ] || return 0
  echo "## $1"
  echo
  echo '```text'
  cat "$2"
  echo '```'
  echo
}

wheel_section() {
  local results=$1 wheel
  wheel=$(find "$BUILD_ROOT/home/pi/wheelhouse" -name 'pysig-*.whl' 2>/dev/null | head -n 1)
  [ -n "$wheel" ] || return 0
  echo "## Binary wheel"
  echo
  echo "\`$(basename "$wheel")\` ($(du -k "$wheel" | cut -f1) kB), built by" \
    "\`pip wheel --no-deps ./pysig\` in the build root: $(result_of \
    "$(status_of "pip wheel --no-deps, inspect the wheel")"). Its shared objects:"
  echo
  echo '```text'
  grep -E '\.so' "$results/wheel-contents.txt" || echo "(none)"
  echo '```'
  echo
  echo "tflite_runtime's \`_pywrap_tensorflow_interpreter_wrapper.so\` is not in it; the" \
    "extension links to the installed copy:"
  echo
  echo '```text'
  sed -E 's/^ *0x[0-9a-f]+ +//' "$results/wheel-elf.txt" 2>/dev/null || true
  echo '```'
  echo
  echo "Installed with \`pip install --only-binary :all:\` into a fresh virtualenv of the" \
    "no-compiler root (no cc, gcc, g++, cmake or Python headers):" \
    "$(result_of "$(status_of "no-compiler root: install the wheel")")."
}
