"""A refused call leaves the interpreter as usable as before it.

tflite-runtime 2.14 drops its delegates and keeps a stale memory plan when it
refuses shapes while re-applying XNNPACK to a resized graph; the next call then
crashed the process. Every sequence here runs in a child process, so that a crash
fails the test instead of ending the suite, on both op resolvers; each good call
after a refusal must return exactly what a fresh interpreter returns for it. So must
a signature's calls after another signature of the same interpreter was resized.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from _support import model_path, run_python, runtime_gap

import pysig

RESOLVERS = ("auto", "builtin_without_default_delegates")

# Runs in the child: prints one JSON line per step, with each call's outputs as hex.
_CHILD_PRELUDE = """
import json, sys
import numpy as np
import pysig

def outputs(result):
    return {name: [str(a.dtype), list(a.shape), a.tobytes().hex()] for name, a in result.items()}

def step(label, attempt):
    try:
        result = attempt()
    except pysig.PysigError as error:
        print(json.dumps([label, "refused", type(error).__name__, str(error)]), flush=True)
    else:
        print(json.dumps([label, "ran", outputs(result or {})]), flush=True)
"""


def run_steps(script: str, timeout: float = 280) -> list[list[Any]]:
    lines = run_python(_CHILD_PRELUDE + script, timeout=timeout).splitlines()
    return [json.loads(line) for line in lines]


def fresh(model: str, key: str, resolver: str, **inputs: Any) -> list[Any]:
    """What a fresh interpreter returns, in the child's format."""
    runner = pysig.Interpreter(model_path(model), op_resolver=resolver).get_signature_runner(key)
    try:
        result = runner(**inputs)
    except pysig.PysigError as error:
        return ["refused", type(error).__name__, str(error)]
    return [
        "ran",
        {name: [str(a.dtype), list(a.shape), a.tobytes().hex()] for name, a in result.items()},
    ]


def image(shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    return np.linspace(0.0, 1.0, int(np.prod(shape)), dtype=np.float32).reshape(shape)


# Each refused shape is one the runtime refuses while it prepares the graph.
REFUSED_CONV_SHAPES = {
    "no batch dimension": (32, 32, 3),
    "four channels": (1, 32, 32, 4),
    "rank 5": (1, 1, 32, 32, 3),
}


@pytest.mark.parametrize("resolver", RESOLVERS)
@pytest.mark.parametrize("refused", sorted(REFUSED_CONV_SHAPES))
def test_the_call_after_a_refused_shape_returns_what_a_fresh_interpreter_does(
    resolver: str, refused: str, runtime: str
) -> None:
    bad = REFUSED_CONV_SHAPES[refused]
    steps = run_steps(f"""
def image(shape):
    return np.linspace(0.0, 1.0, int(np.prod(shape)), dtype=np.float32).reshape(shape)
runner = pysig.Interpreter({model_path("conv")!r}, num_threads=1, op_resolver={resolver!r}
                           ).get_signature_runner()
step("good", lambda: runner(image=image((1, 32, 32, 3))))
step("bad", lambda: runner(image=image({bad!r})))
step("bad again", lambda: runner(image=image({bad!r})))
step("same good", lambda: runner(image=image((1, 32, 32, 3))))
step("bad", lambda: runner(image=image({bad!r})))
step("other good", lambda: runner(image=image((3, 32, 32, 3))))
""")
    refusals = [s for s in steps if s[1] == "refused"]
    one = fresh("conv", "serving_default", resolver, image=image((1, 32, 32, 3)))
    three = fresh("conv", "serving_default", resolver, image=image((3, 32, 32, 3)))
    assert len(refusals) == 3
    for _label, _outcome, kind, message in refusals:
        assert kind == "InputShapeError"
        assert "OutOfMemory" not in kind
        # LiteRT refuses the shapes itself: another rank, or its delegate node.
        assert "CONV_2D" in message or (
            runtime == "litert" and ("XNNPack" in message or "rank" in message)
        )
    assert [s[1:] for s in steps if s[1] == "ran"] == [one, one, three]


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_views_and_explicit_resizes_work_again_after_a_refusal(resolver: str) -> None:
    steps = run_steps(f"""
def image(shape):
    return np.linspace(0.0, 1.0, int(np.prod(shape)), dtype=np.float32).reshape(shape)
runner = pysig.Interpreter({model_path("conv")!r}, num_threads=1, op_resolver={resolver!r}
                           ).get_signature_runner()
step("resize", lambda: runner.resize_input("image", [32, 32, 3]))
step("allocate", runner.allocate)
step("shape after", lambda: {{"shape": runner.get_input_details()["image"]["shape"]}})
def through_views():
    runner.inputs["image"][...] = image((1, 32, 32, 3))
    runner.invoke()
    return {{"scores": runner.outputs["scores"].copy()}}
step("views", through_views)
step("bad call", lambda: runner(image=image((32, 32, 3))))
step("views again", through_views)
""")
    # tflite refuses the rank-3 image when it allocates, LiteRT when it is resized.
    assert sorted(s[1] for s in steps[:2]) == ["ran", "refused"]
    assert [s[2] for s in steps[:2] if s[1] == "refused"] == ["InputShapeError"]
    # Put back as the last allocation left it: the batch of one it was built with.
    batch_of_one = np.array([1, 32, 32, 3], np.int32).tobytes().hex()
    assert steps[2][1:] == ["ran", {"shape": ["int32", [4], batch_of_one]}]
    expected = fresh("conv", "serving_default", resolver, image=image((1, 32, 32, 3)))
    assert steps[3][1:] == expected
    assert steps[4][1:3] == ["refused", "InputShapeError"]
    assert steps[5][1:] == expected


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_other_signatures_of_the_interpreter_are_untouched(resolver: str) -> None:
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    steps = run_steps(f"""
interp = pysig.Interpreter(pysig.DEMO_MODEL_PATH, op_resolver={resolver!r})
add, scale = interp.get_signature_runner("add"), interp.get_signature_runner("scale")
x = np.arange(4, dtype=np.float32).reshape(1, 4)
step("scale", lambda: scale(x=x))
step("add, shapes that do not broadcast", lambda: add(x=np.ones((1, 3), np.float32), y=x))
step("scale after", lambda: scale(x=x))
step("add after", lambda: add(x=x, y=x))
""")
    assert steps[1][1:3] == ["refused", "InputShapeError"]
    demo = pysig.DEMO_MODEL_PATH
    scaled = pysig.Interpreter(demo, op_resolver=resolver).get_signature_runner("scale")(x=x)
    added = pysig.Interpreter(demo, op_resolver=resolver).get_signature_runner("add")(x=x, y=x)
    as_hex = {n: [str(a.dtype), list(a.shape), a.tobytes().hex()] for n, a in scaled.items()}
    assert steps[0][2] == steps[2][2] == as_hex
    assert steps[3][2]["sum"][2] == added["sum"].tobytes().hex()


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_resizing_one_signature_leaves_the_others_running(resolver: str) -> None:
    # Found by the sequence campaign: on tflite under XNNPACK, each resize of the
    # dynamic-batch signature gave it new delegate kernels, which could move XNNPACK's
    # workspace shared with the fixed-batch signature; its kernels, set up earlier, then
    # ran in freed memory and the process aborted ("double free") at the next resize.
    batches = [4, 7, 4, 2, 2]
    steps = run_steps(f"""
def image(shape):
    return np.linspace(0.0, 1.0, int(np.prod(shape)), dtype=np.float32).reshape(shape)
def images(n):
    return image((n, 96, 96, 3))
interp = pysig.Interpreter({model_path("image_classifier")!r}, op_resolver={resolver!r})
fixed = interp.get_signature_runner("classify")
dynamic = interp.get_signature_runner("classify_any")
step("fixed, with a timeout", lambda: fixed.run({{"image": images(1)}}, timeout=5))
step("fixed", lambda: fixed(image=images(1)))
for n in {batches!r}:
    step(f"dynamic {{n}}", lambda: dynamic(image=images(n)))
step("fixed after", lambda: fixed(image=images(1)))
step("dynamic 3", lambda: dynamic(image=images(3)))
step("fixed, resized to its own shape", lambda: (
    fixed.resize_input("image", [1, 96, 96, 3]), fixed(image=images(1)))[1])
def through_views():
    fixed.inputs["image"][...] = images(1)
    fixed.invoke()
    return {{"probabilities": fixed.outputs["probabilities"].copy()}}
step("fixed through views", through_views)
step("dynamic 7 again", lambda: dynamic(image=images(7)))
step("fixed last", lambda: fixed(image=images(1)))
""")

    model = "image_classifier"
    one = fresh(model, "classify", resolver, image=image((1, 96, 96, 3)))
    by_batch = {
        n: fresh(model, "classify_any", resolver, image=image((n, 96, 96, 3))) for n in (2, 3, 4, 7)
    }
    expected = (
        [one] * 2 + [by_batch[n] for n in batches] + [one, by_batch[3], one, one, by_batch[7], one]
    )
    assert [s[1:] for s in steps] == expected


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_a_refused_call_keeps_the_variables_shared_between_signatures(
    resolver: str, runtime: str
) -> None:
    steps = run_steps(f"""
interp = pysig.Interpreter({model_path("counter")!r}, op_resolver={resolver!r})
increment, read = interp.get_signature_runner("increment"), interp.get_signature_runner("read")
step("increment", lambda: increment(delta=np.array([1, 2])))
step("shapes that do not add", lambda: increment(delta=np.array([1, 2, 3])))
step("a dtype refused", lambda: increment(delta=1.5))
step("read", read)
step("increment", lambda: increment(delta=np.array([10, 10])))
""")
    kinds = [s[1] if s[1] == "ran" else s[2] for s in steps]
    if runtime_gap(runtime, "counter", "increment"):
        assert set(kinds) == {"UnsupportedOpError"}  # counter's outputs are variable reads
        return
    assert kinds == ["ran", "InvokeError", "InputTypeError", "ran", "ran"]
    as_hex = {
        n: [str(a.dtype), list(a.shape), a.tobytes().hex()]
        for n, a in {"count": np.array([1, 2], np.int64)}.items()
    }
    assert steps[3][2] == as_hex
    assert steps[4][2]["count"][2] == np.array([11, 12], np.int64).tobytes().hex()


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_refused_shapes_keep_the_variables_on_every_runtime(resolver: str) -> None:
    # accumulator's outputs are computed, so LiteRT runs it too; its refusals: XNNPACK's
    # (or the ADD kernel's) for columns that do not match, and a scalar input given a
    # vector, which LiteRT 2.3.0 refuses to resize back to rank 0.
    steps = run_steps(f"""
interp = pysig.Interpreter({model_path("accumulator")!r}, op_resolver={resolver!r})
add, scaled = interp.get_signature_runner("add"), interp.get_signature_runner("scaled")
step("add", lambda: add(x=np.ones((2, 4), np.float32)))
step("columns that do not add", lambda: add(x=np.ones((2, 5), np.float32)))
step("a vector factor", lambda: scaled(factor=np.ones(2, np.float32)))
step("scaled", lambda: scaled(factor=np.float32(10)))
step("add again", lambda: add(x=np.ones((1, 4), np.float32)))
""")
    kinds = [s[1] if s[1] == "ran" else s[2] for s in steps]
    assert kinds == ["ran", "InputShapeError", "InputShapeError", "ran", "ran"]

    def as_hex(value: float) -> str:
        return np.full(4, value, np.float32).tobytes().hex()

    assert [steps[i][2][name][2] for i, name in ((0, "total"), (3, "value"), (4, "total"))] == [
        as_hex(2),
        as_hex(20),
        as_hex(3),
    ]


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_a_pool_survives_refused_calls_on_every_interpreter(resolver: str) -> None:
    # Also the regression test of a deadlock: the first refusals of two pool threads at
    # once looked up pysig's Python helpers in function-local statics; the import inside
    # released the GIL, and the other thread then waited on the static holding it (about
    # one run in two hung).
    steps = run_steps(
        f"""
def image(shape):
    return np.linspace(0.0, 1.0, int(np.prod(shape)), dtype=np.float32).reshape(shape)
with pysig.Pool({model_path("conv")!r}, size=2, op_resolver={resolver!r}) as pool:
    calls = [image((32, 32, 3)) if i % 2 else image((1, 32, 32, 3)) for i in range(12)]
    futures = [pool.submit("serving_default", image=x) for x in calls]
    for i, future in enumerate(futures):
        step(f"call {{i}}", future.result)
    step("run", lambda: pool.run("serving_default", image=image((2, 32, 32, 3))))
""".replace("future.result", "lambda f=future: f.result()"),
    )
    refused = [s for s in steps if s[1] == "refused"]
    one = fresh("conv", "serving_default", resolver, image=image((1, 32, 32, 3)))
    two = fresh("conv", "serving_default", resolver, image=image((2, 32, 32, 3)))
    assert [s[2] for s in refused] == ["InputShapeError"] * 6
    assert [s[1:] for s in steps if s[1] == "ran"] == [one] * 6 + [two]


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_the_keras_dense_sequence_of_the_report_returns_fresh_results(resolver: str) -> None:
    # (1, 128, 4) then (2, 128, 3): FULLY_CONNECTED flattens both, so both run.
    shapes = [(1, 128, 4), (2, 128, 3), (3,), (2, 4)]
    steps = run_steps(f"""
runner = pysig.Interpreter({model_path("keras_dense")!r}, op_resolver={resolver!r}
                           ).get_signature_runner()
for shape in {shapes!r}:
    x = np.linspace(-1.0, 1.0, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    step(str(shape), lambda: runner(x_input=x))
""")
    for shape, step in zip(shapes, steps):
        x = np.linspace(-1.0, 1.0, int(np.prod(shape)), dtype=np.float32).reshape(shape)
        # A refusal must be the one a fresh interpreter gives (LiteRT refuses other ranks).
        expected = fresh("keras_dense", "serving_default", resolver, x_input=x)
        if expected[0] == "refused":
            assert step[1:3] == expected[:2], shape
        else:
            assert step[1:] == expected, shape


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_invoke_before_any_string_is_written_is_refused(resolver: str, runtime: str) -> None:
    # Found by the sequence campaign: the runtime's GATHER read the empty string input.
    steps = run_steps(f"""
runner = pysig.Interpreter({model_path("types")!r}, op_resolver={resolver!r}
                           ).get_signature_runner("strings")
step("invoke", runner.invoke)
step("call", lambda: runner(s=[b"a", b"b"], i=np.array([1, 0], np.int32)))
step("invoke after", lambda: (runner.invoke(), None)[1])
""")
    gap = runtime_gap(runtime, "types", "strings")
    if gap:  # LiteRT has no string tensors: every use is refused with its clear error
        assert {tuple(step[1:3]) for step in steps} == {("refused", gap[0].__name__)}
        return
    assert steps[0][1:3] == ["refused", "InvokeError"]
    assert "none have been written" in steps[0][3]
    assert steps[1][1] == steps[2][1] == "ran"


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_strings_beyond_what_a_string_tensor_holds_are_refused(resolver: str, runtime: str) -> None:
    # A string tensor counts its bytes and offsets in int32: past 2**31 - 1 bytes in all,
    # tflite-runtime 2.14's SetTensor wrote out of bounds (SIGSEGV) or dropped strings.
    # The same 64 MiB bytes object 33 times: over the limit, with 64 MiB of memory.
    steps = run_steps(f"""
runner = pysig.Interpreter({model_path("types")!r}, op_resolver={resolver!r}
                           ).get_signature_runner("strings")
chunk = b"x" * 2**26
indices = np.array([1, 0], np.int32)
def good():
    picked = runner(s=[b"alpha", b"beta", b"gamma"], i=indices)["picked"]
    return {{"picked": np.frombuffer(b"|".join(picked.tolist()), np.uint8)}}
step("good", good)
step("2 GiB of strings", lambda: runner(s=[chunk] * 33, i=indices))
step("good after", good)
many = np.broadcast_to(np.array(b"", dtype=object), (2**29,))
step("2**29 empty strings", lambda: runner(s=many, i=indices))
step("resized to 2**29 strings", lambda: runner.resize_input("s", [2**29]))
step("good last", good)
""")
    gap = runtime_gap(runtime, "types", "strings")
    if gap:  # every call refused with LiteRT's clear error (the resize alone may pass)
        assert {tuple(steps[i][1:3]) for i in (0, 1, 2, 3, 5)} == {("refused", gap[0].__name__)}
        return
    picked = b"|".join([b"beta", b"alpha"])
    good = ["ran", {"picked": ["uint8", [len(picked)], picked.hex()]}]
    assert [steps[i][1:] for i in (0, 2, 5)] == [good] * 3
    assert [steps[i][1:3] for i in (1, 3, 4)] == [["refused", "InputShapeError"]] * 3
    assert "2,147,483,647 bytes of strings" in steps[1][3]
    # Within this machine's memory (pointer-sized items), beyond the string count.
    assert all("string tensor holds" in steps[i][3] or "memory" in steps[i][3] for i in (3, 4))
