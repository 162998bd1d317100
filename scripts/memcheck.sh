#!/usr/bin/env bash
# Memory checks of pysig under valgrind memcheck.
#
#   scripts/memcheck.sh [output-dir]        (default: build/memcheck)
#
# 1. views: runs the exercise script below (zero-copy views held across resize
#    attempts, close attempts and garbage collection of the interpreter, views
#    read and written after their interpreter object is gone, resizing,
#    strings, variables, errors of every kind, calls after close, timeouts)
#    under memcheck: every invalid read or write, use of uninitialised memory
#    or bad free is reported.
# 2. suite: runs a subset of the test suite (views, errors, outputs, hardening
#    without the slow-model tests) under memcheck with --leak-check=full.
#
# Then it counts, for each run, valgrind's error records and its "definitely"
# or "indirectly lost" leak records, and those that pysig's own code is
# responsible for: records whose stack reaches pysig's extension (_pysig*.so)
# before any Python code or other library (see the counting script at the end).
# It exits non-zero on any error record of pysig's, and on a leak record of
# pysig's that repeats (a leak per call); a few objects left in reference
# cycles at interpreter exit are listed but do not fail it. PYTHONMALLOC=malloc
# makes CPython use malloc, so memcheck sees Python objects too; the
# suppressions below only cover CPython's and numpy's import-time allocations
# that live until exit. For named frames, build the extension with debug info.
set -euo pipefail

cd "$(dirname "$0")/.."
out="${1:-build/memcheck}"
python="${PYTHON:-python}"
mkdir -p "$out"

cat > "$out/exercise_views.py" <<'PY'
"""Exercises zero-copy views, close, garbage collection, resizing and errors."""
import gc

import numpy as np

import pysig
from pysig.model.verify import verify_model  # noqa: F401  (verifier runs on every load)

DEMO = pysig.DEMO_MODEL_PATH


def expect(error, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except error:
        return
    raise AssertionError(f"{call} did not raise {error.__name__}")


for resolver in ("auto", "builtin_without_default_delegates"):
    interp = pysig.Interpreter(DEMO, op_resolver=resolver)
    add = interp.get_signature_runner("add")
    scale = interp.get_signature_runner("scale")
    x, y, total = add.inputs["x"], add.inputs["y"], add.outputs["sum"]
    x[...] = 1.5
    y[...] = 2.0
    add.invoke()
    assert (total == 3.5).all()
    scale_view = scale.inputs["x"]
    expect(pysig.BufferInUseError, scale.resize_input, "x", [3, 4])
    expect(pysig.BufferInUseError, scale, x=np.ones((2, 4), np.float32))
    expect(pysig.BufferInUseError, interp.close)
    # Drop every Python reference to the interpreter and its runners: the
    # views must keep the memory they point into alive.
    invoke = add.invoke
    del interp, add, scale
    gc.collect()
    x[...] = 4.0
    invoke()
    assert (total == 6.0).all(), total
    derived = scale_view[0]
    del scale_view, invoke
    gc.collect()
    derived[...] = 7.0
    assert float(total.sum()) == 24.0
    del x, y, total, derived
    gc.collect()

interp = pysig.Interpreter(DEMO)
scale = interp.get_signature_runner("scale")
for rows in (1, 3, 0, 17, 2, 1):
    result = scale(x=np.full((rows, 4), rows, np.float32))["y"]
    assert result.shape == (rows, 4)
    view = scale.outputs["y"]
    assert view.shape == (rows, 4)
    del view
scale.resize_input("x", [5, 4])
scale.allocate()
scale.inputs["x"][...] = 1
scale.invoke()
assert (scale.outputs["y"] == 3.5).all()
out = np.empty((5, 4), np.float32)
scale.run({"x": np.ones((5, 4), np.float32)}, out={"y": out})
scale.run({"x": np.ones((5, 4), np.float32)}, timeout=30)

# Errors of every kind.
add = interp.get_signature_runner("add")
ones = np.ones((1, 4), np.float32)
expect(pysig.InputTypeError, add, x=ones.astype(np.float64), y=ones)
expect(pysig.InputTypeError, add, x="text", y=ones)
expect(pysig.InputTypeError, add, x=[1, None, 3, 4], y=ones)
expect(pysig.InputNameError, add, x=ones)
expect(pysig.InputNameError, add, x=ones, y=ones, z=ones)
expect(pysig.InputShapeError, add, x=np.ones((3, 5), np.float32), y=ones)
expect(pysig.OutputBufferError, add.run, {"x": ones, "y": ones}, out={"sum": np.empty(3)})
expect(pysig.NameNotFoundError, lambda: add.inputs["nope"])
expect(pysig.SignatureNotFoundError, interp.get_signature_runner, "nope")
expect(pysig.InputShapeError, scale.resize_input, "x", [2**31, 4])
content = open(DEMO, "rb").read()
for damaged in (content[:700], content[:8] + b"\xff" * 64 + content[72:], b"\x00" * 64):
    expect(pysig.ModelLoadError, pysig.Interpreter, model_content=damaged)
expect(pysig.ModelNotFoundError, pysig.Interpreter, "/nonexistent/model.tflite")

# Strings, variables, data-dependent shapes, a model without signatures.
types = pysig.Interpreter("tests/models/types.tflite")
strings = types.get_signature_runner("strings")
picked = strings(s=["alpha", b"beta", "gamma"], i=np.array([2, 0], np.int32))["picked"]
assert list(picked) == [b"gamma", b"alpha"], picked
expect(pysig.InputTypeError, lambda: strings.inputs["s"])
counter = pysig.Interpreter("tests/models/counter.tflite")
increment = counter.get_signature_runner("increment")
for _ in range(5):
    increment(delta=np.int64(2))
assert int(counter.get_signature_runner("read")()["count"]) == 10
dynamic = pysig.Interpreter("tests/models/dynamic.tflite")
positives = dynamic.get_signature_runner("positives")
assert list(positives(x=np.array([1, -2, 3], np.float32))["values"]) == [1, 3]
expect(pysig.BufferInUseError, lambda: positives.outputs["values"])
plain = pysig.Interpreter("tests/models/no_signature.tflite").get_signature_runner()
plain(a=np.ones((1, 3), np.float32), b=np.ones((1, 3), np.float32))

# Use after close.
interp.close()
expect(pysig.ClosedError, add, x=ones, y=ones)
expect(pysig.ClosedError, add.invoke)
expect(pysig.ClosedError, lambda: add.inputs["x"])
expect(pysig.ClosedError, add.cancel)
del interp, add, scale, types, strings, counter, increment, dynamic, positives, plain
gc.collect()
print("exercise complete")
PY

cat > "$out/python.supp" <<'SUPP'
{
   cpython-unicode-interning-and-type-caches
   Memcheck:Leak
   match-leak-kinds: definite,indirect
   ...
   fun:PyUnicode_InternInPlace
}
{
   cpython-dlopen-of-extension-modules
   Memcheck:Leak
   match-leak-kinds: definite,indirect
   ...
   fun:_dl_open
}
{
   numpy-import-time-dispatch-tables
   Memcheck:Leak
   match-leak-kinds: definite,indirect
   ...
   obj:*/numpy/core/_multiarray_umath*.so
   ...
   fun:PyInit__multiarray_umath
}
SUPP

memcheck() {
  local name="$1"
  shift
  PYTHONMALLOC=malloc TF_CPP_MIN_LOG_LEVEL=3 valgrind --tool=memcheck \
    --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=none \
    --num-callers=50 --suppressions="$out/python.supp" \
    --log-file="$out/$name.log" "$python" "$@" > "$out/$name.out" 2>&1 || {
      echo "$name: the program failed under valgrind; see $out/$name.out" >&2
      tail -20 "$out/$name.out" >&2
      return 1
    }
}

memcheck views "$out/exercise_views.py"
memcheck suite -m pytest -q -p no:cacheprovider -o addopts="" --timeout=3000 \
  tests/test_views.py tests/test_errors.py tests/test_outputs.py tests/test_hardening.py \
  -k "not slow and not cancel and not timeout and not crashes_tflite"

"$python" - "$out" <<'PY'
"""Counts valgrind's records, and those that pysig's own code is responsible for.

A record is pysig's when, walking its stack from the innermost frame, a frame
of pysig's extension (_pysig*.so) comes before any frame of Python code (the
eval loop) or of another library (numpy, tflite_runtime): pysig's C++ made
the allocation or the bad access, directly or through CPython's C API.
Errors of pysig fail the check. So do pysig's leak records that repeat (more
than ONE_OFF blocks): a leak per call grows with the calls, while a handful
of objects left in reference cycles when the interpreter exits does not.
"""
import re
import sys
from pathlib import Path

ONE_OFF = 10
ERROR = re.compile(r"== (Invalid|Conditional|Use of|Mismatched|Source and|Syscall param)")
LEAK = re.compile(r"in ([\d,]+) blocks are (definitely|indirectly) lost")
FRAME = re.compile(r"(?:at|by) 0x[0-9A-F]+: (.*)")
NOT_A_CALLER = ("vgpreload", "libc.so", "libstdc++", "libm.so")


def pysig_made_it(block: str) -> bool:
    for line in block.splitlines():
        match = FRAME.search(line)
        if not match:
            continue
        frame = match.group(1)
        if "_pysig" in frame:
            return True
        if "_PyEval_EvalFrameDefault" in frame:
            return False
        library = re.search(r"\(in (\S+)\)", frame)
        if library and not any(name in library.group(1) for name in NOT_A_CALLER):
            return False
    return False


out = Path(sys.argv[1])
failed = False
for name in ("views", "suite"):
    text = (out / f"{name}.log").read_text()
    blocks = re.split(r"\n==\d+== \n", text)
    errors = [b for b in blocks if ERROR.search(b)]
    leaks = [b for b in blocks if LEAK.search(b)]
    ours_errors = [b for b in errors if pysig_made_it(b)]
    ours_leaks = [b for b in leaks if pysig_made_it(b)]
    repeated = [b for b in ours_leaks if int(LEAK.search(b).group(1).replace(",", "")) > ONE_OFF]
    lost = re.findall(r"(definitely|indirectly) lost: ([\d,]+) bytes in ([\d,]+) blocks", text)
    print(
        f"{name}: {len(errors)} error records, {len(ours_errors)} from pysig; "
        f"{len(leaks)} leak records ({', '.join(f'{k} {b} bytes in {n} blocks' for k, b, n in lost)}), "
        f"{len(ours_leaks)} from pysig, of which {len(repeated)} repeat"
    )
    for block in ours_errors + ours_leaks:
        print("\n".join(line.split(" ", 1)[-1] for line in block.splitlines()[:8]) + "\n  ...")
    failed |= bool(ours_errors or repeated)
sys.exit(1 if failed else 0)
PY
