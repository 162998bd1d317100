"""Runs call-sequence cases inside one process: the child side of the sequence campaign.

    python sequence_driver.py pysig[:RUNTIME]|tflite < cases.json

For each case it loads the model twice, the interpreter under test and a
reference, runs the planned steps on the first and every good call on both,
and requires the same outcome: bitwise equal outputs, or the same refusal.
Refusals that only the interpreter under test can meet (views alive, a cancel)
are not replayed. ``pysig:RUNTIME`` passes ``runtime=RUNTIME`` to
pysig.Interpreter; plain ``pysig`` passes none. The outcome line reads
``ran:calls=N,refusals=R,compared=C`` (``UNEXPECTED-...`` after it for a finding).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

import pysig
from pysig.runtime.choose import installed

# The reference API: tflite_runtime's, or ai_edge_litert's (the same API) without it.
if installed("tflite"):
    from tflite_runtime.interpreter import Interpreter, OpResolverType
else:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_corpus import Case
from fuzz_driver import serve
from sequence_corpus import Spec, Step, case_model, case_resolver, plan

# Long enough for any test model's invocation; a timeout step uses a tiny one.
TIMEOUT_STEP_SECONDS = 1e-4
# Refusals the reference, which holds no views and is never cancelled, does not meet.
NOT_REPLAYED = ("BufferInUseError", "InvokeCancelledError")


VARIABLE_OPS = frozenset({"VAR_HANDLE", "ASSIGN_VARIABLE"})


def model_spec(content: bytes) -> tuple[Spec, bool]:
    """Each signature's inputs, named as pysig names them, read through tflite_runtime,
    and whether the model has variables."""
    tflite = Interpreter(
        model_content=content,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    signatures = tflite.get_signature_list()
    spec: Spec = {}
    for key in signatures:
        details = tflite.get_signature_runner(key).get_input_details()
        spec[key] = [
            (name, tuple(int(d) for d in detail["shape_signature"]), np.dtype(detail["dtype"]))
            for name, detail in sorted(details.items())
        ]
    if not signatures:  # pysig's synthesized signature: tensor names, in order
        spec["serving_default"] = [
            (d["name"], tuple(int(x) for x in d["shape_signature"]), np.dtype(d["dtype"]))
            for d in tflite.get_input_details()
        ]
    stateful = any(op["op_name"] in VARIABLE_OPS for op in tflite._get_ops_details())
    return spec, stateful


def same(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    if set(actual) != set(expected):
        return False
    for name, wanted in expected.items():
        got, value = np.asarray(actual[name]), np.asarray(wanted)
        if got.dtype != value.dtype or got.shape != value.shape:
            return False
        if value.dtype == object:
            if got.tolist() != value.tolist():
                return False
        elif got.tobytes() != value.tobytes():
            return False
    return True


class Tally:
    def __init__(self) -> None:
        self.calls = 0
        self.refusals: Counter[str] = Counter()
        self.compared = 0
        self.findings: list[str] = []

    def outcome(self) -> str:
        text = f"ran:calls={self.calls},refusals={sum(self.refusals.values())},compared={self.compared}"
        kinds = ",".join(f"{kind}={n}" for kind, n in sorted(self.refusals.items()))
        text += f",{kinds}" if kinds else ""
        if self.findings:
            text += ",UNEXPECTED-" + "|".join(self.findings)
        return text.replace(" ", "_")[:600]


def attempt(call: Callable[[], Any], refusals: tuple[type[BaseException], ...]) -> tuple[str, Any]:
    """("ran", outputs) or ("refused", error class name); anything else is raised."""
    try:
        return "ran", call()
    except refusals as error:
        return "refused", type(error).__name__


class PysigSide:
    refusals: tuple[type[BaseException], ...] = (pysig.PysigError,)

    def __init__(self, content: bytes, resolver: str, runtime: str | None) -> None:
        options: dict[str, Any] = {"op_resolver": resolver}
        if runtime is not None:
            options["runtime"] = runtime
        self.interp = pysig.Interpreter(model_content=content, **options)
        self.reference = pysig.Interpreter(model_content=content, **options)
        self.views: list[Any] = []

    def call(self, step: Step) -> Any:
        runner = self.interp.get_signature_runner(step.key)
        if step.op == "call":
            return runner(**step.inputs)
        if step.op == "timeout":
            return runner.run(step.inputs, timeout=TIMEOUT_STEP_SECONDS)
        if step.op == "view":
            for name in runner.input_names:
                view = runner.inputs[name]
                view[...] = 1
                self.views.append(view)
            self.views.extend(runner.outputs[name] for name in runner.output_names)
        elif step.op == "drop_views":
            self.views.clear()
        elif step.op in ("resize", "huge_resize"):
            for name, shape in step.inputs.items():
                runner.resize_input(name, shape)
        elif step.op == "invoke":
            runner.invoke()
        elif step.op == "cancel":
            runner.cancel()
        return None

    def expected(self, step: Step) -> Any:
        return self.reference.get_signature_runner(step.key)(**step.inputs)


class TfliteSide:
    """Plain tflite_runtime, used as its documentation shows; it has no views or resizes."""

    refusals = (ValueError, RuntimeError, TypeError, MemoryError, IndexError, KeyError)

    def __init__(self, content: bytes, resolver: str) -> None:
        self.interp = self._load(content, resolver)
        self.reference = self._load(content, resolver)

    @staticmethod
    def _load(content: bytes, resolver: str) -> Interpreter:
        interp = Interpreter(
            model_content=content,
            experimental_op_resolver_type=OpResolverType[resolver.upper()],
        )
        interp.allocate_tensors()
        return interp

    @staticmethod
    def _run(interp: Interpreter, step: Step) -> Any:
        if interp.get_signature_list():
            return interp.get_signature_runner(step.key)(**step.inputs)
        by_name = {d["name"]: d for d in interp.get_input_details()}
        for name, value in step.inputs.items():
            index = by_name[name]["index"]
            if tuple(value.shape) != tuple(interp.get_tensor_details()[index]["shape"]):
                interp.resize_tensor_input(index, value.shape)
        interp.allocate_tensors()
        for name, value in step.inputs.items():
            interp.set_tensor(by_name[name]["index"], value)
        interp.invoke()
        return {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}

    def call(self, step: Step) -> Any:
        if step.op in ("call", "timeout"):
            return self._run(self.interp, step)
        return None  # views, resizes, invoke and cancel have no tflite_runtime counterpart here

    def expected(self, step: Step) -> Any:
        return self._run(self.reference, step)


def run_sequence(mode: str, case: Case) -> str:
    content = case_model(case).read_bytes()
    resolver = case_resolver(case)
    steps = plan(case, *model_spec(content))
    side: PysigSide | TfliteSide
    if mode == "tflite":
        side = TfliteSide(content, resolver)
    else:
        side = PysigSide(content, resolver, mode.partition(":")[2] or None)
    tally = Tally()
    for number, step in enumerate(steps):
        if isinstance(side, TfliteSide) and step.op not in ("call", "timeout"):
            continue
        tally.calls += 1
        try:
            outcome, value = attempt(lambda step=step: side.call(step), side.refusals)
        except Exception as error:  # noqa: BLE001  # anything else is a finding
            tally.findings.append(f"step{number}:{step.op}:{type(error).__name__}:{error}")
            continue
        if outcome == "refused":
            tally.refusals[value] += 1
            if value == "OutOfMemoryError" or (value == "ClosedError" and mode != "tflite"):
                tally.findings.append(f"step{number}:{step.op}/{step.kind}:{value}")
        # Every call that ran is repeated on the reference (variables must follow),
        # and every refused good call: a refusal must be the reference's too.
        if step.op not in ("call", "timeout") or (outcome == "refused" and step.kind != "good"):
            continue
        if outcome == "refused" and value in NOT_REPLAYED:
            continue
        try:
            expected_outcome, expected = attempt(
                lambda step=step: side.expected(step), side.refusals
            )
        except Exception as error:  # noqa: BLE001
            tally.findings.append(f"step{number}:reference:{type(error).__name__}:{error}")
            continue
        tally.compared += 1
        if (outcome, value if outcome == "refused" else None) != (
            expected_outcome,
            expected if expected_outcome == "refused" else None,
        ) or (outcome == "ran" and not same(value, expected)):
            tally.findings.append(f"step{number}:{step.key}:mismatch:{outcome}/{expected_outcome}")
    return tally.outcome()


def main() -> None:
    mode = sys.argv[1]
    serve(lambda case: run_sequence(mode, case))


if __name__ == "__main__":
    main()
