# shellcheck shell=bash
# Writes run.sh's Markdown report from its step records, the results the steps left in the
# roots and the logs. Sourced, not run.

write_report() {
  local i failed=0 skipped=0 interrupted=0 suite titles=() partial=()
  for i in "${!STEP_STATUS[@]}"; do
    case ${STEP_STATUS[i]} in
      0) ;;
      skipped) skipped=$((skipped + 1)) ;;
      interrupted) interrupted=$((interrupted + 1)) ;;
      *) failed=$((failed + 1)) ;;
    esac
  done
  for suite in "${SUITES[@]}"; do
    titles+=("${SUITE_TITLES[$suite]}")
    [ "${SUITE_END[$suite]:-}" = completed ] || partial+=("$suite: ${SUITE_END[$suite]:-not started}")
  done
  {
    echo "# pysig on arm64 ($(joined ", " "${titles[@]}") $(how_run)): report"
    echo
    echo "Written by \`scripts/arm64/run.sh\`, started $STARTED, finished" \
      "$(date -u '+%Y-%m-%d %H:%M UTC'), with PYSIG_ARM64_SUITES=\"${SUITES[*]}\"," \
      "PYSIG_ARM64_SKIP=\"${SKIP[*]}\", PYSIG_ARM64_PYTEST_ARGS=\"$PYTEST_ARGS\". Each suite's" \
      "arm64 roots are debootstrapped with \`--variant=minbase\` and run" \
      "$(if [ "$NATIVE" -eq 1 ]; then
        echo "natively on an aarch64 host ($(nproc) cores, $(cpu_model))."
      else
        echo "through qemu-user on an $(uname -m) host ($(nproc) cores, $(cpu_model)): timings" \
          "are those of emulation, not of a Raspberry Pi."
      fi)"
    echo
    echo "- Source: $(source_description)"
    if [ "$NATIVE" -eq 1 ]; then
      echo "- Host: $(uname -srm), no emulator"
    else
      echo "- Emulator: $("$QEMU" --version | head -n 1)"
    fi
    echo "- Logs: \`$RUN_LOGS\`"
    if [ "$failed" -gt 0 ]; then
      echo "- Result: **$failed of ${#STEP_STATUS[@]} steps failed**"
    elif [ "$skipped" -eq 0 ] && [ "$interrupted" -eq 0 ] && [ "${#partial[@]}" -eq 0 ] &&
      [ -z "$PYTEST_ARGS" ]; then
      echo "- Result: **all ${#STEP_STATUS[@]} steps passed**"
    else
      [ -z "$PYTEST_ARGS" ] || partial+=("pytest ran only \`$PYTEST_ARGS\`")
      echo "- Result: **partial run**: no step failed; $skipped skipped," \
        "$interrupted interrupted$([ "${#partial[@]}" -eq 0 ] || echo "; $(joined "; " "${partial[@]}")")"
    fi
    for suite in "${SUITES[@]}"; do
      use_suite "$suite"
      suite_section
    done
  } >"$REPORT"
}

joined() {
  local separator=$1 out=$2
  shift 2 || { echo "${out:-}"; return 0; }
  local item
  for item in "$@"; do out+=$separator$item; done
  echo "$out"
}

# The report of the suite use_suite chose.
suite_section() {
  local build=$BUILD_ROOT/home/pi/results runtime=$RUNTIME_ROOT/home/pi/results i key
  echo
  echo "## ${SUITE_TITLES[$SUITE]} (\`$SUITE\`): ${SUITE_END[$SUITE]:-not started}"
  echo
  echo "### Steps"
  echo
  echo "| Step | Result | Elapsed |"
  echo "|---|---|---|"
  for i in "${!STEP_NAMES[@]}"; do
    [ "${STEP_SUITES[i]}" = "$SUITE" ] || continue
    echo "| ${STEP_NAMES[i]} | $(result_of "${STEP_STATUS[i]}") | $(minutes "${STEP_SECONDS[i]}") |"
  done
  case ${SUITE_END[$SUITE]:-not started} in
    completed) ;;
    *) echo "| (the steps after these) | not run | |" ;;
  esac
  echo
  echo "### Versions"
  echo
  echo "| | build root (from source) | no-compiler root (wheel) |"
  echo "|---|---|---|"
  for key in machine debian python pip numpy tflite-runtime ai-edge-litert runtimes \
    "auto picks" pysig gcc cmake; do
    echo "| $key | $(field "$key" "$build/versions.txt") | $(field "$key" "$runtime/versions.txt") |"
  done
  echo
  echo "### Test suite (\`python -m pytest\`)"
  echo
  echo "Run as \`$(pytest_command)\`$(if [ "$NATIVE" -eq 1 ]; then
    echo ", with the suite's own limits"
  else
    echo ", with qemu emulating a $EMULATED_CPU CPU: under emulation the short" \
      "fuzz campaign has $EMULATED_FUZZ_CASES cases instead of 3000, a case of it counts as hung" \
      "after $EMULATED_FUZZ_CASE_SECONDS s instead of 60 s, and a test after" \
      "$EMULATED_TEST_TIMEOUT s instead of 300 s"
  fi); the front ends' tests run last.$([ -z "$PYTEST_ARGS" ] ||
      echo " **PYSIG_ARM64_PYTEST_ARGS selects a subset** (\`$PYTEST_ARGS\`), not the whole suite.")"
  echo
  echo "- Build root, pysig built from source by \`pip install ./pysig[test]\`:" \
    "$(pytest_summary "$LOGS/pytest-build.log" "pytest (build root)")"
  echo "- No-compiler root, pysig from the wheel:" \
    "$(pytest_summary "$LOGS/pytest-runtime.log" "pytest (no-compiler root, wheel)")"
  pytest_details "build root" "$LOGS/pytest-build.log"
  pytest_details "no-compiler root" "$LOGS/pytest-runtime.log"
  echo
  echo "### Self-checks on aarch64"
  echo
  echo "- \`import pysig\` checks pysig's declarations of every installed runtime against" \
    "its live library, then the demo model's \`add\` signature runs on each:" \
    "$(abi_result "$build/versions.txt") in the build root," \
    "$(abi_result "$runtime/versions.txt") in the no-compiler root."
  echo "- The $(static_assert_count) \`static_assert\`s in \`third_party/\` and" \
    "\`src/cpp/\`: $(result_of "$(status_of "pip install ./pysig[test] (build from source)")")" \
    "(they are checked when the extension compiles for aarch64)."
  echo
  bench_section "\`pysig bench --runs 200\` (demo model, signature \`add\`)" "$build/bench.txt"
  bench_section "\`pysig bench --runs 200 --compare\`" "$build/bench-compare.txt"
  wheel_section "$build"
}

field() {
  local value=
  [ ! -f "$2" ] || value=$(sed -n "s/^$1: //p" "$2" | head -n 1)
  echo "${value:--}"
}

abi_result() {
  if [ -f "$1" ] && grep -q '^auto picks: ' "$1"; then
    echo "passed on $(field runtimes "$1")"
  else
    echo "not reached"
  fi
}

status_of() {
  local i
  for i in "${!STEP_NAMES[@]}"; do
    [ "${STEP_SUITES[i]}" != "$SUITE" ] || [ "${STEP_NAMES[i]}" != "$1" ] ||
      { echo "${STEP_STATUS[i]}"; return 0; }
  done
  echo none
}

result_of() {
  case $1 in
    0) echo "passed" ;;
    none) echo "not reached" ;;
    skipped) echo "skipped" ;;
    interrupted) echo "**interrupted**" ;;
    *) echo "**FAILED** (status $1)" ;;
  esac
}

minutes() { printf '%d:%02d' "$(($1 / 60))" "$(($1 % 60))"; }

# x86's /proc/cpuinfo names the model; an ARM kernel's names only part numbers, which lscpu
# turns into names (Cortex-A76).
cpu_model() {
  local model
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  [ -n "$model" ] || model=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
  echo "${model:-CPU model unknown}"
}

how_run() { if [ "$NATIVE" -eq 1 ]; then echo natively; else echo "under emulation"; fi; }

# What copy_tree recorded when it copied the tree: HEAD may have moved on since.
source_description() {
  if [ -f "$LOGS/source.txt" ]; then cat "$LOGS/source.txt"; else echo "not copied"; fi
}

static_assert_count() {
  grep -rho 'static_assert' "$REPO/third_party" "$REPO/src/cpp" | wc -l
}

# The summary line of a pytest log, or why there is none (the step's result).
pytest_summary() {
  if [ ! -f "$1" ]; then
    result_of "$(status_of "$2")" | sed 's/^not reached$/not run/'
    return 0
  fi
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
  echo "### $1"
  echo
  echo '```text'
  cat "$2"
  echo '```'
  echo
}

wheel_section() {
  local results=$1 wheel
  # No wheelhouse yet (a run stopped before the wheel step) must not end the report here.
  wheel=$(find "$BUILD_ROOT/home/pi/wheelhouse" -name 'pysig-*.whl' 2>/dev/null | head -n 1) || true
  [ -n "$wheel" ] || return 0
  echo "### Binary wheel"
  echo
  echo "\`$(basename "$wheel")\` ($(du -k "$wheel" | cut -f1) kB), built by" \
    "\`pip wheel --no-deps ./pysig\` in the build root: $(result_of \
    "$(status_of "pip wheel --no-deps, inspect the wheel")"). Its shared objects:"
  echo
  echo '```text'
  grep -E '\.so' "$results/wheel-contents.txt" || echo "(none)"
  echo '```'
  echo
  echo "Neither runtime's library (tflite_runtime's" \
    "\`_pywrap_tensorflow_interpreter_wrapper.so\`, ai_edge_litert's \`libLiteRt.so\`) is in" \
    "it, and the extension has no NEEDED or RPATH entry on either: it resolves their symbols" \
    "at run time from the installed packages. Its dynamic section:"
  echo
  echo '```text'
  sed -E 's/^ *0x[0-9a-f]+ +//' "$results/wheel-elf.txt" 2>/dev/null || true
  echo '```'
  echo
  echo "Installed with \`pip install --only-binary :all:\` into a fresh virtualenv of the" \
    "no-compiler root (no cc, gcc, g++, cmake or Python headers):" \
    "$(result_of "$(status_of "no-compiler root: install the wheel")" | sed 's/^not reached$/not run/')."
}
