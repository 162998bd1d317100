"""The ways of running one signature that `pysig bench` times, each as a `Method`.

Python methods are timed call by call in a loop generated for each statement, as
``timeit`` does: the statement is inlined, with its objects as local variables, so
no wrapper call is added to what a user's own loop would pay. Each runtime's floor is
its own run call (tflite's ``Invoke()``, LiteRT's ``LiteRtRunCompiledModel``) timed in
a C++ loop inside the extension, with no Python in between.

Names: pysig's methods and the floors run on a runtime and carry it (``pysig_call@litert``,
``floor@tflite``); the runtimes' own APIs are named after their package.
"""

from __future__ import annotations

import platform
import time
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from ..runtime.choose import installed
from ..signature_runner import SignatureRunner

if TYPE_CHECKING:
    from tflite_runtime.interpreter import Interpreter as TfliteInterpreter

# Nanoseconds per call, for `count` calls.
Measure = Callable[[int], "array[int]"]

PYSIG_CALL = "pysig_call"
PYSIG_ZERO_COPY = "pysig_zero_copy"
FLOOR = "floor"
TFLITE_SIGNATURE_RUNNER = "tflite_signature_runner"
TFLITE_INDEX_API = "tflite_index_api"
LITERT_SIGNATURE_RUNNER = "litert_signature_runner"
LITERT_COMPILED_MODEL = "litert_compiled_model"

# What each kind of method is, and (for the runtimes' own APIs) the runtime it runs on.
KIND_LABELS = {
    PYSIG_CALL: "pysig runner(**inputs)",
    PYSIG_ZERO_COPY: "pysig zero-copy invoke()",
    FLOOR: "floor",
    TFLITE_SIGNATURE_RUNNER: "tflite_runtime SignatureRunner",
    TFLITE_INDEX_API: "tflite_runtime index API",
    LITERT_SIGNATURE_RUNNER: "ai_edge_litert SignatureRunner",
    LITERT_COMPILED_MODEL: "ai_edge_litert CompiledModel write+run+read",
}
API_RUNTIMES = {
    TFLITE_SIGNATURE_RUNNER: "tflite",
    TFLITE_INDEX_API: "tflite",
    LITERT_SIGNATURE_RUNNER: "litert",
    LITERT_COMPILED_MODEL: "litert",
}
FLOOR_CALLS = {"tflite": "Invoke()", "litert": "LiteRtRunCompiledModel()"}


def method_name(kind: str, runtime: str) -> str:
    """The unique name of a method: pysig's and the floors carry their runtime."""
    return kind if kind in API_RUNTIMES else f"{kind}@{runtime}"


def label(kind: str, runtime: str) -> str:
    if kind == FLOOR:
        return f"floor: {runtime} {FLOOR_CALLS.get(runtime, 'run')} in a C++ loop"
    if kind in API_RUNTIMES:
        return KIND_LABELS[kind]
    return f"{KIND_LABELS[kind]} on {runtime}"


@dataclass(frozen=True)
class _Named:
    """A method of one kind on one runtime, named as the report names it."""

    kind: str
    runtime: str

    @property
    def name(self) -> str:
        return method_name(self.kind, self.runtime)

    @property
    def label(self) -> str:
        return label(self.kind, self.runtime)


@dataclass(frozen=True)
class Method(_Named):
    measure: Measure


@dataclass(frozen=True)
class Skipped(_Named):
    reason: str


_LOOP_TEMPLATE = """
def loop(_count, _out, _clock, {parameters}):
    _start = _clock()
    for _i in range(_count):
        {statement}
        _now = _clock()
        _out[_i] = _now - _start
        _start = _now
"""


def timed_loop(statement: str, names: Mapping[str, Any]) -> Measure:
    """A function timing ``statement`` (which uses ``names``) once per iteration."""
    source = _LOOP_TEMPLATE.format(parameters=", ".join(names), statement=statement)
    scope: dict[str, Any] = {}
    # Code generated from our own fixed template and statements, as timeit does.
    exec(compile(source, f"<pysig bench: {statement}>", "exec"), scope)  # noqa: S102
    loop = scope["loop"]
    bound = dict(names)

    def measure(count: int) -> array[int]:
        durations = array("q", bytes(8 * count))
        loop(count, durations, time.perf_counter_ns, **bound)
        return durations

    return measure


def timing_overhead_ns(calls: int = 10_000) -> float:
    """Median time per iteration of the timing loop itself, with an empty statement."""
    return float(np.median(np.frombuffer(timed_loop("pass", {})(calls), dtype=np.int64)))


def pysig_methods(
    runner: SignatureRunner, inputs: Mapping[str, NDArray[Any]], modes: Sequence[str]
) -> list[Method]:
    """pysig's dict call and/or zero-copy invoke, and the C++ floor when asked for."""
    methods = []
    runtime = runner.runtime
    # One call writes every input (strings too, which have no view) into the tensors;
    # the zero-copy invoke then runs on them, as a caller filling `runner.inputs` would.
    runner(**inputs)
    if "call" in modes:
        names = {"runner": runner, "inputs": dict(inputs)}
        methods.append(Method(PYSIG_CALL, runtime, timed_loop("runner(**inputs)", names)))
    if "zero-copy" in modes:
        measure = timed_loop("runner.invoke()", {"runner": runner})
        methods.append(Method(PYSIG_ZERO_COPY, runtime, measure))
    return methods


def floor_method(runner: SignatureRunner) -> Method:
    """The runtime's own run call, timed call by call inside C++."""

    def measure(count: int) -> array[int]:
        return array("q", runner._time_invokes(count))

    return Method(FLOOR, runner.runtime, measure)


def tflite_methods(
    model_path: str,
    runner: SignatureRunner,
    inputs: Mapping[str, NDArray[Any]],
    num_threads: int | None,
) -> tuple[list[Method], list[Skipped]]:
    """tflite_runtime's SignatureRunner and index API, each on an interpreter of its own:
    once a SignatureRunner exists, tflite_runtime refuses ``invoke()`` on its interpreter."""
    if not installed("tflite"):
        return _not_installed("tflite", "tflite-runtime", TFLITE_SIGNATURE_RUNNER, TFLITE_INDEX_API)
    subgraph = runner.subgraph_index
    input_indices = {name: int(d["index"]) for name, d in runner.get_input_details().items()}
    output_indices = [int(d["index"]) for d in runner.get_output_details().values()]

    def interpreter() -> TfliteInterpreter:
        return _tflite_interpreter(model_path, num_threads, subgraph, inputs, input_indices)

    methods: list[Method] = []
    skipped: list[Skipped] = []
    _add_signature_runner(
        methods, skipped, TFLITE_SIGNATURE_RUNNER, "tflite", interpreter(), runner, inputs
    )
    statement, names = _index_api_statement(
        interpreter(), inputs, input_indices, output_indices, subgraph
    )
    _add_checked(methods, skipped, TFLITE_INDEX_API, timed_loop(statement, names))
    return methods, skipped


def _not_installed(runtime: str, package: str, *kinds: str) -> tuple[list[Method], list[Skipped]]:
    """No methods, and a skip note for each of the runtime's own APIs."""
    return [], [Skipped(kind, runtime, f"{package} is not installed") for kind in kinds]


def _add_signature_runner(
    methods: list[Method],
    skipped: list[Skipped],
    kind: str,
    runtime: str,
    interpreter: Any,
    runner: SignatureRunner,
    inputs: Mapping[str, NDArray[Any]],
) -> None:
    """The runtime's own SignatureRunner called as its users call it, where it has one."""
    if runner.signature_key not in interpreter.get_signature_list():
        package = "tflite_runtime" if runtime == "tflite" else "ai_edge_litert"
        reason = f"the model has no SignatureDefs, so {package} has no SignatureRunner for it"
        skipped.append(Skipped(kind, runtime, reason))
        return
    if kind == LITERT_SIGNATURE_RUNNER and litert_dies_resizing(inputs):
        reason = (
            "ai_edge_litert 2.3.0's SignatureRunner dies (SIGSEGV) on aarch64 on a 0-d input: "
            "its ResizeInputTensor crashes on an empty shape"
        )
        skipped.append(Skipped(kind, runtime, reason))
        return
    names = {
        "signature_runner": interpreter.get_signature_runner(runner.signature_key),
        "inputs": dict(inputs),
    }
    _add_checked(methods, skipped, kind, timed_loop("signature_runner(**inputs)", names))


def litert_dies_resizing(inputs: Mapping[str, NDArray[Any]]) -> bool:
    """Whether ai_edge_litert's SignatureRunner would take the process down on these inputs:
    on aarch64, its call resizes every input, and a resize to a 0-d shape crashes there
    (seen under emulation of a Raspberry Pi 5's CPU; its CompiledModel and pysig run it)."""
    return platform.machine() == "aarch64" and any(np.ndim(value) == 0 for value in inputs.values())


def _tflite_interpreter(
    model_path: str,
    num_threads: int | None,
    subgraph_index: int,
    inputs: Mapping[str, NDArray[Any]],
    input_indices: Mapping[str, int],
) -> TfliteInterpreter:
    """A tflite_runtime interpreter set up as its users do (``allocate_tensors()`` first),
    with the signature's inputs sized for ``inputs``."""
    from tflite_runtime.interpreter import Interpreter as TfliteInterpreter

    tflite = TfliteInterpreter(model_path=model_path, num_threads=num_threads)
    tflite.allocate_tensors()
    for name, value in inputs.items():
        shape = np.array(value.shape, dtype=np.int32)
        tflite._interpreter.ResizeInputTensor(input_indices[name], shape, False, subgraph_index)
    tflite._interpreter.AllocateTensors(subgraph_index)
    return tflite


def litert_methods(
    model_path: str,
    runner: SignatureRunner,
    inputs: Mapping[str, NDArray[Any]],
    num_threads: int | None,
) -> tuple[list[Method], list[Skipped]]:
    """ai_edge_litert's SignatureRunner and its CompiledModel, as their users run them."""
    if not installed("litert"):
        return _not_installed(
            "litert", "ai-edge-litert", LITERT_SIGNATURE_RUNNER, LITERT_COMPILED_MODEL
        )
    from ai_edge_litert.interpreter import Interpreter as LitertInterpreter

    methods: list[Method] = []
    skipped: list[Skipped] = []
    interpreter = LitertInterpreter(model_path=model_path, num_threads=num_threads)
    interpreter.allocate_tensors()
    _add_signature_runner(
        methods, skipped, LITERT_SIGNATURE_RUNNER, "litert", interpreter, runner, inputs
    )
    try:
        statement, names = _compiled_model_statement(model_path, runner, inputs, num_threads)
    except (ValueError, RuntimeError) as error:
        skipped.append(Skipped(LITERT_COMPILED_MODEL, "litert", f"ai_edge_litert failed: {error}"))
    else:
        _add_checked(methods, skipped, LITERT_COMPILED_MODEL, timed_loop(statement, names))
    return methods, skipped


def _compiled_model_statement(
    model_path: str,
    runner: SignatureRunner,
    inputs: Mapping[str, NDArray[Any]],
    num_threads: int | None,
) -> tuple[str, dict[str, Any]]:
    """What a CompiledModel user writes: write each input buffer, run, read each output."""
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.options import CpuOptions, Options

    options = None if num_threads is None else Options(cpu_options=CpuOptions(num_threads))
    model = CompiledModel.from_file(model_path, options=options)
    signatures = model.get_signature_list()
    # A model without SignatureDefs has LiteRT's one default signature.
    key = runner.signature_key if runner.signature_key in signatures else None
    if key is None and len(signatures) != 1:
        raise ValueError(f"it has no signature {runner.signature_key!r}")
    index = 0 if key is None else model.get_signature_index(key)
    signature = model.get_signature_by_index(index)
    # LiteRT orders (and, without SignatureDefs, names) the tensors its own way.
    input_details = _in_order(signature["inputs"], runner.get_input_details())
    output_details = _in_order(signature["outputs"], runner.get_output_details())
    values = [inputs[name] for name in input_details]
    for position, (value, detail) in enumerate(zip(values, input_details.values())):
        if value.shape != tuple(int(d) for d in detail["shape_signature"]):
            model.resize_input_tensor(position, list(value.shape), index, strict=False)
    names: dict[str, Any] = {
        "model": model,
        "inputs": model.create_input_buffers(index),
        "outputs": model.create_output_buffers(index),
    }
    steps = []
    for position, value in enumerate(values):
        names[f"b{position}"], names[f"x{position}"] = names["inputs"][position], value
        steps.append(f"b{position}.write(x{position})")
    steps.append(f"model.run_by_index({index}, inputs, outputs)")
    for position, detail in enumerate(output_details.values()):
        names[f"o{position}"], names[f"d{position}"] = names["outputs"][position], detail["dtype"]
        steps.append(f"o{position}.read({int(np.prod(detail['shape']))}, d{position})")
    return "; ".join(steps), names


def _in_order(
    litert_names: Sequence[str], details: Mapping[str, Mapping[str, Any]]
) -> dict[str, Mapping[str, Any]]:
    """pysig's details in LiteRT's order: by name, or by position where the names differ."""
    if set(litert_names) == set(details):
        return {name: details[name] for name in litert_names}
    return dict(details)


def _add_checked(
    methods: list[Method], skipped: list[Skipped], kind: str, measure: Measure
) -> None:
    """Keep a method whose first call works; a runtime failure becomes a skip note."""
    runtime = API_RUNTIMES[kind]
    try:
        measure(1)
    except (ValueError, RuntimeError) as error:
        package = KIND_LABELS[kind].split()[0]
        skipped.append(Skipped(kind, runtime, f"{package} failed: {error}"))
    else:
        methods.append(Method(kind, runtime, measure))


def _index_api_statement(
    tflite: TfliteInterpreter,
    inputs: Mapping[str, NDArray[Any]],
    input_indices: Mapping[str, int],
    output_indices: Sequence[int],
    subgraph_index: int,
) -> tuple[str, dict[str, Any]]:
    """The code a user writes with tensor indices: set every input, invoke, get every output.

    The public ``set_tensor``/``invoke`` work on subgraph 0 only; a signature on another
    subgraph goes through the wrapper's subgraph-aware calls, as tflite_runtime's own
    SignatureRunner does.
    """
    # On subgraph 0 the wrapper must not be referenced: tflite_runtime's invoke() refuses to
    # run while anything but the interpreter holds it.
    names: dict[str, Any] = {"interp": tflite}
    if subgraph_index != 0:
        names["wrapper"] = tflite._interpreter
    steps = []
    for position, (name, value) in enumerate(inputs.items()):
        names[f"x{position}"] = value
        index = input_indices[name]
        steps.append(
            f"interp.set_tensor({index}, x{position})"
            if subgraph_index == 0
            else f"wrapper.SetTensor({index}, x{position}, {subgraph_index})"
        )
    steps.append("interp.invoke()" if subgraph_index == 0 else f"wrapper.Invoke({subgraph_index})")
    subgraph_argument = "" if subgraph_index == 0 else f", {subgraph_index}"
    steps.extend(f"interp.get_tensor({index}{subgraph_argument})" for index in output_indices)
    return "; ".join(steps), names
