"""Runs fuzz cases inside one process: the child side of the campaign.

    python fuzz_driver.py pysig[:tflite|:litert]|tflite|ai_edge_litert < cases.json

Reads a JSON list of [index, seed] pairs and, for each case, builds the
damaged model, loads it (with pysig, or with a runtime's own API) and, when
that succeeds, runs every signature on generated inputs. It prints
``start <index>`` before a case and ``done <index> <outcome>`` after it, so the
parent knows which case was running if the process dies.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

import pysig

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_corpus import Case, build, case_resolver

# Inputs larger than this are not generated: the case reports it instead.
MAX_INPUT_ELEMENTS = 1 << 22
DYNAMIC_DIM = 2
# A damaged model may ask for absurd amounts of memory: fail those
# allocations rather than let them take the machine's memory.
ADDRESS_SPACE_LIMIT = 8 << 30
# pysig stops an invocation that runs longer than this (the parent kills
# the process a while after, should that fail).
INVOKE_TIMEOUT = 10.0


class InputTooLarge(Exception):
    pass


def make_input(detail: Mapping[str, Any], rng: np.random.Generator) -> Any:
    signature = detail.get("shape_signature")
    dims = signature if signature is not None and len(signature) else detail["shape"]
    shape = tuple(DYNAMIC_DIM if int(d) < 0 else int(d) for d in dims)
    count = int(np.prod(shape, dtype=np.float64))
    if count > MAX_INPUT_ELEMENTS:
        raise InputTooLarge(f"{count} elements")
    dtype = np.dtype(detail["dtype"])
    if dtype == object or dtype.kind in "SU":
        return np.array([b"fuzz"] * count, dtype=object).reshape(shape)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        return rng.integers(0, 8, size=shape).astype(dtype)
    if dtype.kind in "fc":
        return rng.standard_normal(size=shape).astype(dtype)
    raise InputTooLarge(f"no generated values for dtype {dtype}")


def run_pysig(content: bytes, resolver: str, rng: np.random.Generator, runtime: str) -> str:
    try:
        interp = pysig.Interpreter(model_content=content, op_resolver=resolver, runtime=runtime)
    except pysig.PysigError as error:
        return f"refused:{type(error).__name__}"
    results = []
    for key in interp.get_signature_list():
        try:
            runner = interp.get_signature_runner(key)
            inputs = {n: make_input(d, rng) for n, d in runner.get_input_details().items()}
            runner.get_output_details()
            runner.run(inputs, timeout=INVOKE_TIMEOUT)
            results.append("ok")
        except InputTooLarge:
            results.append("input-too-large")
        except pysig.PysigError as error:
            results.append(type(error).__name__)
        except Exception as error:  # noqa: BLE001  # anything but a pysig error is a finding
            results.append(f"UNEXPECTED-{type(error).__name__}:{error}".replace(" ", "_")[:200])
    interp.close()
    return "ran:" + ",".join(results)


def run_tflite(content: bytes, resolver: str, rng: np.random.Generator) -> str:
    """tflite_runtime's own Interpreter, unprotected."""
    from tflite_runtime.interpreter import Interpreter, OpResolverType

    try:
        interp = Interpreter(
            model_content=content,
            experimental_op_resolver_type=getattr(OpResolverType, resolver.upper()),
        )
        interp.allocate_tensors()
    except Exception as error:  # noqa: BLE001  # tflite_runtime raises ValueError/RuntimeError
        return f"refused:{type(error).__name__}"
    results = []
    signatures = interp.get_signature_list()
    for key in signatures or [None]:
        try:
            if key is None:
                for detail in interp.get_input_details():
                    interp.set_tensor(detail["index"], make_input(detail, rng))
                interp.invoke()
            else:
                runner = interp.get_signature_runner(key)
                runner(**{n: make_input(d, rng) for n, d in runner.get_input_details().items()})
            results.append("ok")
        except InputTooLarge:
            results.append("input-too-large")
        except Exception as error:  # noqa: BLE001
            results.append(type(error).__name__)
    return "ran:" + ",".join(results)


def run_compiled_model(content: bytes, resolver: str, rng: np.random.Generator) -> str:
    """ai_edge_litert's own CompiledModel, unprotected, from a file as its docs show it:
    LiteRT reads a model file without verifying it (from a buffer, it verifies)."""
    del resolver, rng  # LiteRT picks its CPU kernels itself; the buffers start zeroed
    from ai_edge_litert.compiled_model import CompiledModel

    with tempfile.NamedTemporaryFile(suffix=".tflite") as file:
        file.write(content)
        file.flush()
        try:
            model = CompiledModel.from_file(file.name)
        except Exception as error:  # noqa: BLE001  # it raises RuntimeError/ValueError
            return f"refused:{type(error).__name__}"
    results = []
    for index in range(len(model.get_signature_list())):
        try:
            inputs, outputs = model.create_input_buffers(index), model.create_output_buffers(index)
            model.run_by_index(index, inputs, outputs)
            results.append("ok")
        except Exception as error:  # noqa: BLE001
            results.append(type(error).__name__)
    return "ran:" + ",".join(results)


RUNNERS: dict[str, Callable[[bytes, str, np.random.Generator], str]] = {
    # pysig on each runtime, and each runtime's own Python API.
    "pysig": lambda content, resolver, rng: run_pysig(content, resolver, rng, "auto"),
    "pysig:tflite": lambda content, resolver, rng: run_pysig(content, resolver, rng, "tflite"),
    "pysig:litert": lambda content, resolver, rng: run_pysig(content, resolver, rng, "litert"),
    "tflite": run_tflite,
    "ai_edge_litert": run_compiled_model,
}


def serve(run_case: Callable[[Case], str]) -> None:
    """The child's loop, for any driver: run the cases read from stdin, reporting each."""
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, resource.RLIM_INFINITY))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for index, seed in json.load(sys.stdin):
        print(f"start {index}", flush=True)
        outcome = run_case(Case(index, seed))
        print(f"done {index} {outcome}", flush=True)


def main() -> None:
    run = RUNNERS[sys.argv[1]]
    serve(lambda case: run(build(case), case_resolver(case), np.random.default_rng(case.index)))


if __name__ == "__main__":
    main()
