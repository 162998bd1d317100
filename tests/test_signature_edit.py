"""Editing signatures: every option, round trips, every bad edit, and the runtimes
(tflite_runtime, ai_edge_litert) loading and running what pysig writes."""

from __future__ import annotations

import importlib
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pytest
from _support import Run, assert_bitwise_equal, model_path, random_value, runtime_gap
from test_model_file import assert_same_details

import pysig
from pysig.model import SignatureEditor, inspect_model
from pysig.model.writer import libraries
from pysig.runtime.ops import installed_runtimes

RUNTIMES = installed_runtimes()
# What ai_edge_litert 2.3.0's Python TensorBuffer writes and reads (ml_dtypes' aside).
TENSOR_BUFFER_DTYPES = {"float32", "float16", "int32", "int8", "uint8", "bool"}


def runtime_interpreter(runtime: str, content: bytes) -> Any:
    """The runtime's own Python interpreter over ``content``, as its docs show it."""
    module = {"tflite": "tflite_runtime.interpreter", "litert": "ai_edge_litert.interpreter"}
    interpreter = importlib.import_module(module[runtime]).Interpreter(model_content=content)
    interpreter.allocate_tensors()
    return interpreter


def compiled_model_results(content: bytes, key: str, inputs: Mapping[str, Any]) -> Any:
    """Signature ``key`` run by LiteRT's own CompiledModel, whose model loader is stricter
    than its Interpreter's (pysig's LiteRT backend uses that loader too); None when its
    Python tensor buffers do not take one of the dtypes (int64, for one)."""
    from ai_edge_litert.compiled_model import CompiledModel

    model = CompiledModel.from_buffer(content)
    details = model.get_output_tensor_details(key)
    assert sorted(model.get_signature_list()[key]["inputs"]) == sorted(inputs)
    dtypes = [str(np.asarray(v).dtype) for v in inputs.values()]
    if not {*dtypes, *(str(d["dtype"]) for d in details.values())} <= TENSOR_BUFFER_DTYPES:
        return None
    for name, value in inputs.items():
        model.resize_input_tensor_by_name(key, name, np.shape(value), strict=False)
    in_buffers = {name: model.create_input_buffer_by_name(key, name) for name in inputs}
    for name, value in inputs.items():
        in_buffers[name].write(np.asarray(value))
    details = model.get_output_tensor_details(key)  # shapes after the resizes
    out_buffers = {name: model.create_output_buffer_by_name(key, name) for name in details}
    model.run_by_name(key, in_buffers, out_buffers)
    return {
        name: out_buffers[name]
        .read(int(np.prod(d["shape"])), np.dtype(d["dtype"]))
        .reshape(tuple(d["shape"]))
        for name, d in details.items()
    }


def read(name: str) -> bytes:
    with open(model_path(name), "rb") as file:
        return file.read()


def signature_inputs(content: bytes, key: str, seed: int = 7) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    runner = pysig.Interpreter(model_content=content).get_signature_runner(key)
    return {name: random_value(d, rng) for name, d in runner.get_input_details().items()}


def assert_same_results(
    original: bytes,
    key: str,
    edited: bytes,
    new_key: str,
    names: Mapping[str, str] | None = None,
    output_names: Mapping[str, str] | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> None:
    """Signature ``new_key`` of ``edited`` computes what ``key`` of ``original`` does, in
    pysig and in every installed runtime, under its new input and output names."""
    names, output_names = dict(names or {}), dict(output_names or {})
    if inputs is None:
        inputs = signature_inputs(original, key)
    expected = pysig.Interpreter(model_content=original).get_signature_runner(key)(**inputs)
    expected = {output_names.get(n, n): v for n, v in expected.items()}
    renamed = {names.get(n, n): v for n, v in inputs.items()}
    got = pysig.Interpreter(model_content=edited).get_signature_runner(new_key)(**renamed)
    assert_bitwise_equal(got, expected)
    for runtime in RUNTIMES:
        runner = runtime_interpreter(runtime, edited).get_signature_runner(new_key)
        assert_bitwise_equal(dict(runner(**renamed)), expected)
    if "litert" in RUNTIMES:
        compiled = compiled_model_results(edited, new_key, renamed)
        if compiled is not None:
            assert_bitwise_equal(compiled, expected)


def unpack(content: bytes) -> Any:
    """The model as the schema's object API holds it (a ModelT)."""
    return libraries()[1].ModelT.InitFromPackedBuf(content, 0)


def pack(model: Any) -> bytes:
    """A ModelT packed plainly by the flatbuffers library, as tools other than pysig do."""
    flatbuffers, _ = libraries()
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def everything_but_signatures(content: bytes) -> bytes:
    """The model without its SignatureDefs, packed by the schema's object API: equal for
    two files exactly when their graphs, weights and metadata are equal."""
    model = unpack(content)
    model.signatureDefs = None
    return pack(model)


def test_every_runtime_of_the_suite_is_installed() -> None:
    # What pyproject installs: tflite-runtime on CPython 3.8-3.11, ai-edge-litert on 3.10+.
    if sys.version_info < (3, 12):
        assert "tflite" in RUNTIMES
    if sys.version_info >= (3, 10):
        assert "litert" in RUNTIMES


# --- each edit ---------------------------------------------------------------------------


def test_rename_a_signature_and_its_names() -> None:
    original = read("multi_signature")
    editor = SignatureEditor(model_path("multi_signature"))
    editor.rename("add", "plus").rename_input("plus", "x", "left").rename_output(
        "plus", "sum", "total"
    )
    edited = editor.to_bytes()
    expected = {
        "plus": {"inputs": ["left", "y"], "outputs": ["total"]},
        "mul": {"inputs": ["a", "b"], "outputs": ["product"]},
        "negate": {"inputs": ["x"], "outputs": ["y"]},
    }
    assert editor.get_signature_list() == expected
    assert pysig.Interpreter(model_content=edited).get_signature_list() == expected
    for runtime in RUNTIMES:
        assert runtime_interpreter(runtime, edited).get_signature_list() == expected
    assert_same_results(original, "add", edited, "plus", {"x": "left"}, {"sum": "total"})
    assert_same_results(original, "mul", edited, "mul")
    assert everything_but_signatures(edited) == everything_but_signatures(original)


def test_remove_a_signature() -> None:
    original = read("multi_signature")
    edited = SignatureEditor(original).remove("negate").remove("mul").to_bytes()
    assert list(inspect_model(edited).signatures) == ["add"]
    assert_same_results(original, "add", edited, "add")
    assert everything_but_signatures(edited) == everything_but_signatures(original)


def test_removing_every_signature_gives_the_synthesized_one() -> None:
    edited = SignatureEditor(read("keras_dense")).remove("serving_default").to_bytes()
    (signature,) = inspect_model(edited).signatures.values()
    assert signature.synthesized


@pytest.mark.parametrize("name", ["mediapipe_style", "no_signature"])
def test_add_a_signature_to_a_model_without_any(name: str) -> None:
    original = read(name)
    synthesized = inspect_model(original).signatures["serving_default"]
    assert synthesized.synthesized
    edited = SignatureEditor(original).add("detect").to_bytes()
    (signature,) = inspect_model(edited).signatures.values()
    assert (signature.key, signature.synthesized) == ("detect", False)
    assert sorted(signature.inputs) == sorted(synthesized.inputs)
    assert sorted(signature.outputs) == sorted(synthesized.outputs)
    assert_same_results(original, "serving_default", edited, "detect")
    assert everything_but_signatures(edited) == everything_but_signatures(original)
    file = inspect_model(edited)
    assert [(m.name, file.metadata_value(m.name)) for m in file.metadata] == [
        (m.name, inspect_model(original).metadata_value(m.name))
        for m in inspect_model(original).metadata
    ]


def test_add_with_names_given_by_tensor_name_and_index() -> None:
    original = read("mediapipe_style")
    file = inspect_model(original)
    main = file.subgraphs[0]
    boxes = next(i for i in main.outputs if file.tensor(0, i).name == "regressors")
    edited = (
        SignatureEditor(original)
        .add("detect", {"image": "input"}, {"boxes": boxes, "scores": "classificators"})
        .add("locate", {"picture": main.inputs[0]}, {"where": "regressors", "how_sure": 8})
        .to_bytes()
    )
    assert pysig.Interpreter(model_content=edited).get_signature_list() == {
        "detect": {"inputs": ["image"], "outputs": ["boxes", "scores"]},
        "locate": {"inputs": ["picture"], "outputs": ["how_sure", "where"]},
    }
    outputs = {"regressors": "boxes", "classificators": "scores"}
    assert_same_results(original, "serving_default", edited, "detect", {"input": "image"}, outputs)
    outputs = {"regressors": "where", "classificators": "how_sure"}
    assert_same_results(
        original, "serving_default", edited, "locate", {"input": "picture"}, outputs
    )


def test_a_signature_must_give_every_output_of_its_subgraph() -> None:
    # LiteRT's model loader refuses a whole file with such a signature (status 501).
    editor = SignatureEditor(model_path("mediapipe_style"))
    with pytest.raises(pysig.SignatureEditError, match=r"leaves out output.*'classificators'"):
        editor.add("boxes_only", {"image": "input"}, {"boxes": "regressors"})
    assert list(editor.get_signature_list()) == ["serving_default"]


def test_a_partial_signature_written_elsewhere_is_a_clear_error_on_litert(runtime: str) -> None:
    _, fb = libraries()
    model = unpack(read("mediapipe_style"))
    signature, image, boxes = fb.SignatureDefT(), fb.TensorMapT(), fb.TensorMapT()
    image.name, image.tensorIndex, boxes.name, boxes.tensorIndex = b"image", 0, b"boxes", 9
    signature.signatureKey, signature.inputs, signature.outputs = b"boxes_only", [image], [boxes]
    model.signatureDefs = [signature]
    partial = pack(model)
    if runtime == "litert":
        with pytest.raises(
            pysig.ModelLoadError, match="1 of 2 outputs of subgraph 0, and LiteRT loads only"
        ):
            pysig.Interpreter(model_content=partial)
    else:
        image_value = signature_inputs(read("mediapipe_style"), "serving_default")["input"]
        got = pysig.Interpreter(model_content=partial).get_signature_runner("boxes_only")(
            image=image_value
        )
        expected = pysig.Interpreter(model_path("mediapipe_style")).get_signature_runner()(
            input=image_value
        )
        assert_bitwise_equal(got, {"boxes": expected["regressors"]})
    # The way out the message names: the signature rewritten with every output.
    fixed = (
        SignatureEditor(partial)
        .remove("boxes_only")
        .add("boxes_only", {"image": "input"}, {"boxes": "regressors", "scores": "classificators"})
        .to_bytes()
    )
    assert_same_results(
        read("mediapipe_style"),
        "serving_default",
        fixed,
        "boxes_only",
        {"input": "image"},
        {"regressors": "boxes", "classificators": "scores"},
    )


def test_add_over_another_subgraph() -> None:
    original = read("multi_signature")
    mul = inspect_model(original).signatures["mul"]
    edited = SignatureEditor(original).add("times", subgraph=mul.subgraph_index).to_bytes()
    times = inspect_model(edited).signatures["times"]
    assert times.subgraph_index == mul.subgraph_index
    inputs = {t.index: n for n, t in times.inputs.items()}
    outputs = {t.index: n for n, t in times.outputs.items()}
    assert_same_results(
        original,
        "mul",
        edited,
        "times",
        {n: inputs[t.index] for n, t in mul.inputs.items()},
        {n: outputs[t.index] for n, t in mul.outputs.items()},
    )


def test_round_trip_gives_the_same_signatures_and_details(runtime: str) -> None:
    original = read("types")
    there = SignatureEditor(original).rename("strings", "text").rename_input("text", "s", "words")
    back = (
        SignatureEditor(there.to_bytes())
        .rename_input("text", "words", "s")
        .rename("text", "strings")
    )
    result = back.to_bytes()
    before, after = (
        pysig.Interpreter(model_content=original),
        pysig.Interpreter(model_content=result),
    )
    assert after.get_signature_list() == before.get_signature_list()
    for key in before.get_signature_list():
        for method in ("get_input_details", "get_output_details"):
            assert_same_details(
                getattr(after.get_signature_runner(key), method)(),
                getattr(before.get_signature_runner(key), method)(),
            )
    assert everything_but_signatures(result) == everything_but_signatures(original)
    for key in before.get_signature_list():
        if runtime_gap(runtime, "types", key):
            continue  # what LiteRT cannot run is checked in test_outputs
        # Random indices would fall outside the strings they pick from.
        words = {"s": np.array([b"a", b"bc", b""], dtype=object), "i": np.array([2, 0], np.int32)}
        assert_same_results(original, key, result, key, inputs=words if key == "strings" else None)


def test_no_edit_gives_the_same_bytes() -> None:
    assert SignatureEditor(read("counter")).to_bytes() == read("counter")


def test_variables_stay_shared_between_edited_signatures(runtime: str) -> None:
    edited = SignatureEditor(read("counter")).rename("increment", "add_to").to_bytes()
    interpreter = pysig.Interpreter(model_content=edited)
    gap = runtime_gap(runtime, "counter", "increment")
    if gap is not None:
        with pytest.raises(gap[0], match=gap[1]):
            interpreter.get_signature_runner("add_to")(delta=np.int64(5))
        return
    interpreter.get_signature_runner("add_to")(delta=np.int64(5))
    assert interpreter.get_signature_runner("read")()["count"] == 5


# --- bad edits ---------------------------------------------------------------------------


BAD_EDITS: dict[str, tuple[Callable[[SignatureEditor], Any], str]] = {
    "unknown key": (lambda e: e.rename("nope", "x"), "no signature 'nope'"),
    "unknown key to remove": (lambda e: e.remove("nope"), "no signature 'nope'"),
    "key used twice": (lambda e: e.rename("add", "mul"), "'mul': that key is taken"),
    "add a taken key": (lambda e: e.add("mul", subgraph=0), "has a signature by that key"),
    "unknown input": (lambda e: e.rename_input("add", "z", "w"), "has no input 'z'"),
    "unknown output": (lambda e: e.rename_output("add", "x", "w"), "has no output 'x'"),
    "input name twice": (lambda e: e.rename_input("add", "x", "y"), "that name is taken"),
    "empty name": (lambda e: e.rename_input("add", "x", ""), "non-empty string"),
    "NUL in a key": (lambda e: e.rename("add", "a\0b"), "NUL"),
    "tensor not there": (lambda e: e.add("k", {"x": 999}, subgraph=0), "not in subgraph 0"),
    "tensor name not there": (lambda e: e.add("k", {"x": "nope"}, subgraph=0), "no tensor named"),
    "not an output": (lambda e: e.add("k", None, {"o": 0}, subgraph=0), "is not an output"),
    "an output left out": (
        lambda e: e.add("k", {"x": "add_x:0", "y": "add_y:0"}, {}, subgraph=0),
        "leaves out output",
    ),
    "no such subgraph": (lambda e: e.add("k", subgraph=9), "subgraph 9 does not exist"),
}


@pytest.mark.parametrize("what", BAD_EDITS)
def test_bad_edits_raise_clear_errors(what: str) -> None:
    edit, message = BAD_EDITS[what]
    editor = SignatureEditor(model_path("multi_signature"))
    before = editor.get_signature_list()
    with pytest.raises(pysig.SignatureEditError, match=message):
        edit(editor)
    assert editor.get_signature_list() == before


def test_a_signature_must_set_every_input_and_not_take_an_output_as_input() -> None:
    editor = SignatureEditor(model_path("no_signature"))
    with pytest.raises(pysig.SignatureEditError, match="leaves out input"):
        editor.add("k", {"a": "a"}, {"sum": "sum"})
    with pytest.raises(pysig.SignatureEditError, match="is not an input of subgraph 0"):
        editor.add("k", {"a": "a", "b": "b", "s": "sum"}, {})
    with pytest.raises(pysig.SignatureEditError, match="given as two inputs"):
        editor.add("k", {"a": "a", "b": "b", "again": "a"}, {})
    with pytest.raises(pysig.SignatureEditError, match="nothing in the file to remove"):
        editor.remove("serving_default")


def test_writing_over_the_input_needs_asking(tmp_path: Path) -> None:
    path = tmp_path / "model.tflite"
    path.write_bytes(read("multi_signature"))
    path.chmod(0o640)
    editor = SignatureEditor(path).rename("add", "plus")
    with pytest.raises(pysig.SignatureEditError, match="is the model being edited"):
        editor.write(path)
    assert path.read_bytes() == read("multi_signature")
    editor.write(path, overwrite_input=True)
    assert "plus" in inspect_model(path).signatures
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["model.tflite"]


# --- models whose weights lie outside the flatbuffer -------------------------------------


def with_external_buffers(content: bytes) -> bytes:
    """``content`` rewritten the way models above 2 GiB are stored: every constant's data
    after the flatbuffer, located by each Buffer's offset and size."""
    model = unpack(content)
    blobs = []
    for buffer in model.buffers:
        if buffer.data is not None and len(buffer.data):
            blobs.append((buffer, bytes(buffer.data)))
            buffer.data, buffer.offset, buffer.size = None, 1, len(buffer.data)
    head = pack(model)
    tail = bytearray()
    start = -(-len(head) // 16) * 16
    for buffer, blob in blobs:
        buffer.offset = start + len(tail)
        tail += blob + b"\0" * (-len(blob) % 16)
    head = pack(model)  # the same size: offsets are fixed-size fields
    assert -(-len(head) // 16) * 16 == start
    return bytes(head + b"\0" * (start - len(head)) + tail)


def test_models_with_weights_outside_the_flatbuffer() -> None:
    original = with_external_buffers(read("keras_dense"))
    file = inspect_model(original)
    assert file.signatures["serving_default"].inputs
    key = "a_key_long_enough_to_move_the_data_after_the_flatbuffer" * 4
    edited = SignatureEditor(original).rename("serving_default", key).to_bytes()
    assert len(edited) > len(original)
    assert_same_results(read("keras_dense"), "serving_default", edited, key)
    back = SignatureEditor(edited).rename(key, "serving_default").to_bytes()
    assert_same_results(original, "serving_default", back, "serving_default")


def test_a_flatbuffer_too_large_to_write_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    flatbuffers, _ = libraries()
    # The library's 2 GiB ceiling, lowered to below this model's size.
    monkeypatch.setattr(flatbuffers.Builder, "MAX_BUFFER_SIZE", 200_000)
    editor = SignatureEditor(model_path("slow")).rename("serving_default", "run")
    with pytest.raises(pysig.ModelWriteError, match="would exceed 2 GiB"):
        editor.to_bytes()


# --- the command ---------------------------------------------------------------------------


def test_cli_lists_signatures(run: Run) -> None:
    status, out, _ = run("signatures", model_path("mediapipe_style"))
    assert status == 0
    assert "'serving_default' (subgraph 0, synthesized" in out
    assert "input   input: float32[1,16,16,3], tensor 'input' #0" in out
    status, out, _ = run("signatures", model_path("multi_signature"), "--json")
    listing = json.loads(out)
    assert {
        k: {"inputs": list(v["inputs"]), "outputs": list(v["outputs"])} for k, v in listing.items()
    } == (pysig.Interpreter(model_path("multi_signature")).get_signature_list())


def test_cli_combines_edits_in_order(run: Run, tmp_path: Path) -> None:
    out_path = tmp_path / "out.tflite"
    subgraph = inspect_model(model_path("multi_signature")).signatures["add"].subgraph_index

    def edit(output: str, *more: str) -> tuple[int, str, str]:
        return run(
            "signatures",
            model_path("multi_signature"),
            "-o",
            str(out_path),
            *("--rename", "add=plus", "--rename-input", "plus:x=left"),
            *("--rename-output", "mul:product=p", "--remove", "negate"),
            *("--add", "sum2", "--subgraph", str(subgraph)),
            *("--input", "first=add_x:0", "--input", "second=add_y:0", "--output", output),
            *more,
        )

    status, out, err = edit("s=0")
    assert status == 2, (out, err)  # tensor 0 is an input, not an output: nothing written
    assert "is not an output" in err
    assert not out_path.exists()
    status, out, err = edit("s=PartitionedCall:0", "--rename", "sum2=add2")
    assert status == 0, err
    assert f"wrote {out_path}" in out
    expected = {
        "plus": {"inputs": ["left", "y"], "outputs": ["sum"]},
        "mul": {"inputs": ["a", "b"], "outputs": ["p"]},
        "add2": {"inputs": ["first", "second"], "outputs": ["s"]},
    }
    edited = out_path.read_bytes()
    assert pysig.Interpreter(model_content=edited).get_signature_list() == expected
    original = read("multi_signature")
    assert_same_results(
        original, "add", edited, "add2", {"x": "first", "y": "second"}, {"sum": "s"}
    )
    assert_same_results(original, "mul", edited, "mul", {}, {"product": "p"})


def test_cli_adds_a_signature_and_edits_in_place(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "detector.tflite"
    path.write_bytes(read("mediapipe_style"))
    status, _, err = run("signatures", str(path), "--in-place", "--add", "detect")
    assert status == 0, err
    assert list(pysig.Interpreter(str(path)).get_signature_list()) == ["detect"]
    assert sorted(os.listdir(tmp_path)) == ["detector.tflite"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--rename", "nope=x"], "no signature 'nope'"),
        (["--rename", "add"], "expected KEY=NEWKEY"),
        (["--rename-input", "add:x"], "expected KEY:NAME=NEWNAME"),
        (["--rename-input", "add:zz=w"], "has no input 'zz'"),
        (["--rename", "add=mul"], "that key is taken"),
        (["--input", "x=0"], "belongs to an --add"),
        (["--add", "k", "--input", "x"], "expected NAME=TENSOR"),
        (["--add", "k", "--input", "x=add_x:0", "--input", "x=add_y:0"], "given twice"),
        (["--add", "k", "--subgraph", "two"], "expected an integer"),
        (["--add", "k", "--input", "x=nope"], "no tensor named 'nope'"),
        (["--remove", "nope"], "no signature 'nope'"),
    ],
)
def test_cli_bad_edits_exit_2_and_write_nothing(
    run: Run, tmp_path: Path, arguments: list[str], message: str
) -> None:
    out_path = tmp_path / "out.tflite"
    status, _, err = run(
        "signatures", model_path("multi_signature"), "-o", str(out_path), *arguments
    )
    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert not out_path.exists()
    assert os.listdir(tmp_path) == []


def test_cli_never_writes_over_the_input_unless_asked(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "m.tflite"
    path.write_bytes(read("multi_signature"))
    status, _, err = run("signatures", str(path), "-o", str(path), "--rename", "add=plus")
    assert status == 2
    assert "--in-place" in err
    assert path.read_bytes() == read("multi_signature")
    status, _, err = run(
        "signatures", str(path), "-o", str(path), "--in-place", "--rename", "add=b"
    )
    assert (status, "not both" in err) == (2, True)
    status, _, err = run("signatures", str(path), "--rename", "add=plus")
    assert (status, "give -o OUT" in err) == (2, True)
