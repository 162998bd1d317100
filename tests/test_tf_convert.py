"""`pysig convert` on every example of TensorFlow Lite's signatures guide and of the
SavedModel-to-TFLite article, each run afterwards in pysig as the guide's Python code calls it."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import assert_bitwise_equal, import_tensorflow

import pysig
from pysig.model import inspect_model

pytestmark = [
    pytest.mark.tensorflow,
    # Keras 2.14 seeds its initializers with a float, which Python 3.10+ deprecates.
    pytest.mark.filterwarnings("ignore:non-integer arguments to randrange:DeprecationWarning"),
]

EXAMPLES = Path(__file__).parent / "examples" / "signatures_guide.py"
GUIDE_SIGNATURES = {
    "decode": {"inputs": ["x"], "outputs": ["decoded_result"]},
    "encode": {"inputs": ["x"], "outputs": ["encoded_result"]},
}


@pytest.fixture(scope="module")
def tf() -> Any:
    return import_tensorflow()


@pytest.fixture(scope="module")
def guide(tf: Any) -> Any:  # noqa: ARG001  imported first, with the warning it raises muted
    sys.path.insert(0, str(EXAMPLES.parent))
    try:
        import signatures_guide
    finally:
        sys.path.pop(0)
    return signatures_guide


@pytest.fixture(scope="module")
def coding_saved_model(tf: Any, guide: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guide's SavedModel, saved with its two signatures."""
    model = guide.Model()
    path = tmp_path_factory.mktemp("saved_models") / "coding"
    tf.saved_model.save(
        model,
        str(path),
        signatures={
            "encode": model.encode.get_concrete_function(),
            "decode": model.decode.get_concrete_function(),
        },
    )
    return path


def pysig_convert(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pysig", "convert", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def converted(*args: str | Path) -> str:
    """Run `pysig convert`, require success, return what it printed."""
    result = pysig_convert(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pysig: error" not in result.stderr
    return result.stdout


def parity_lines(out: str) -> list[str]:
    return out.split("parity with TensorFlow", 1)[1].splitlines()[1:]


def guide_round_trip(interpreter: Any, tf: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The guide's Python section, verbatim in its calls."""
    encode = interpreter.get_signature_runner("encode")
    decode = interpreter.get_signature_runner("decode")
    input = tf.constant([1, 2, 3], dtype=tf.float32)  # the guide's name
    encoded = encode(x=input)
    decoded = decode(x=encoded["encoded_result"])
    return dict(encoded), dict(decoded)


def assert_runs_like_tf_lite(path: Path, tf: Any) -> None:
    interpreter = pysig.Interpreter(str(path), runtime="tflite")  # Flex ops: tflite only
    assert interpreter.get_signature_list() == GUIDE_SIGNATURES
    mine = guide_round_trip(interpreter, tf)
    theirs = guide_round_trip(tf.lite.Interpreter(model_path=str(path)), tf)
    for actual, expected in zip(mine, theirs):
        assert_bitwise_equal(actual, expected)
    assert mine[1]["decoded_result"].tolist() == [1.0, 2.0, 3.0]


def test_guide_saved_model(coding_saved_model: Path, tmp_path: Path, tf: Any) -> None:
    out_path = tmp_path / "coding.tflite"
    out = converted(coding_saved_model, "-o", out_path, "--select-tf-ops")
    assert "fell back to TensorFlow (Flex) ops: FlexAsString, FlexStringToNumber" in out
    assert sorted(parity_lines(out)) == [
        (
            "  decode.decoded_result (float32, shapes [1], [3], [8]): max abs error 0, "
            "max rel error 0: ok"
        ),
        "  encode.encoded_result (string, shapes [1], [3], [8]): strings compared exactly: ok",
    ]
    assert_runs_like_tf_lite(out_path, tf)


def test_guide_concrete_functions(guide: Any, tmp_path: Path, tf: Any) -> None:
    out_path = tmp_path / "coding.tflite"
    out = converted(f"{EXAMPLES}:Model", "-o", out_path, "--select-tf-ops")
    assert out.count(": ok") == 2
    assert_runs_like_tf_lite(out_path, tf)
    # The guide's own conversion of the same concrete functions gives the same signatures.
    model = guide.Model()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [model.encode.get_concrete_function(), model.decode.get_concrete_function()], model
    )
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS,
        tf.lite.OpsSet.SELECT_TF_OPS,
    ]
    theirs = inspect_model(converter.convert())
    assert list(theirs.signatures) == list(inspect_model(str(out_path)).signatures)
    assert {key: (list(s.inputs), list(s.outputs)) for key, s in theirs.signatures.items()} == {
        key: (names["inputs"], names["outputs"]) for key, names in GUIDE_SIGNATURES.items()
    }


def test_without_select_tf_ops_it_says_to_add_it(coding_saved_model: Path, tmp_path: Path) -> None:
    result = pysig_convert(coding_saved_model, "-o", tmp_path / "coding.tflite")
    assert result.returncode == 1
    assert "rerun with --select-tf-ops" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "coding.tflite").exists()


def test_signature_choice_and_renames(coding_saved_model: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "to_text.tflite"
    out = converted(
        coding_saved_model,
        "-o",
        out_path,
        "--select-tf-ops",
        "--signature",
        "encode",
        "--rename",
        "encode=to_text",
        "--rename-input",
        "to_text:x=value",
        "--rename-output",
        "to_text:encoded_result=text",
    )
    assert "signature(s) 'decode' of the SavedModel were not converted" in out
    assert "to_text.text (string, shapes [1], [3], [8]): strings compared exactly: ok" in out
    interpreter = pysig.Interpreter(str(out_path), runtime="tflite")
    assert interpreter.get_signature_list() == {
        "to_text": {"inputs": ["value"], "outputs": ["text"]}
    }
    to_text = interpreter.get_signature_runner("to_text")
    assert to_text(value=np.array([0.25], np.float32))["text"].tolist() == [b"0.250000"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--signature", "translate"], "no signature 'translate' (its signatures: "),
        (["--rename", "nope=x"], "no signature 'nope'"),
        (["--rename-input", "encode:y=z"], "signature 'encode' has no input 'y'"),
        (["--rename", "encode=decode"], "cannot rename 'encode' to 'decode': that key is taken"),
        # Renames apply in order: after the first, there is no 'encode' left to rename.
        (["--rename", "encode=a", "--rename", "encode=b"], "no signature 'encode'"),
    ],
)
def test_bad_choices_exit_2(
    coding_saved_model: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = pysig_convert(
        coding_saved_model, "-o", tmp_path / "x.tflite", "--select-tf-ops", *args
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "x.tflite").exists()


@pytest.fixture(scope="module")
def keras_files(guide: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("keras")
    model = guide.keras_model()
    files = {suffix: directory / f"model{suffix}" for suffix in (".keras", ".h5")}
    model.save(files[".keras"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras calls .h5 a legacy format
        model.save(files[".h5"])
    return files


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_guide_keras_model(
    keras_files: dict[str, Path], suffix: str, tmp_path: Path, tf: Any, rng: np.random.Generator
) -> None:
    out_path = tmp_path / "keras.tflite"
    out = converted(keras_files[suffix], "-o", out_path)
    assert (
        "input 'x_input' was named by Keras after the first layer, 'x'; to call it by that "
        "name, add --rename-input serving_default:x_input=x" in out
    )
    assert "serving_default.output (float32, shapes [1, 1], [3, 1], [8, 1])" in out
    interpreter = pysig.Interpreter(str(out_path))
    # The guide prints this list for its Keras model.
    assert interpreter.get_signature_list() == {
        "serving_default": {"inputs": ["x_input"], "outputs": ["output"]}
    }
    x = rng.standard_normal((5, 4)).astype(np.float32)
    runner = interpreter.get_signature_runner()
    expected = tf.keras.models.load_model(keras_files[suffix], compile=False)(x).numpy()
    np.testing.assert_allclose(runner(x_input=x)["output"], expected, rtol=1e-5, atol=1e-6)


def test_keras_input_renamed_to_the_layer_name(
    keras_files: dict[str, Path], tmp_path: Path
) -> None:
    out_path = tmp_path / "keras.tflite"
    converted(keras_files[".keras"], "-o", out_path, "--rename-input", "serving_default:x_input=x")
    interpreter = pysig.Interpreter(str(out_path))
    assert interpreter.get_signature_list() == {
        "serving_default": {"inputs": ["x"], "outputs": ["output"]}
    }


@pytest.mark.parametrize("quantize", ["dynamic", "int8"])
def test_keras_model_quantized(
    keras_files: dict[str, Path], tmp_path: Path, quantize: str, rng: np.random.Generator
) -> None:
    out_path = tmp_path / f"{quantize}.tflite"
    args: list[str | Path] = [keras_files[".keras"], "-o", out_path, "--quantize", quantize]
    if quantize == "int8":
        data = tmp_path / "calibration.npz"
        # Named KEY/NAME: the form for models with several signatures.
        np.savez(
            data, **{"serving_default/x_input": rng.standard_normal((64, 4)).astype(np.float32)}
        )
        args += ["--representative-data", data]
    out = converted(*args)
    assert "serving_default.output (float32" in out
    assert ": ok" in out


def test_article_wrapper_module_in_float16(tmp_path: Path, tf: Any, guide: Any) -> None:
    out_path = tmp_path / "wrapper.tflite"
    out = converted(f"{EXAMPLES}:Wrapper", "-o", out_path, "--quantize", "float16")
    assert "tf.function 'untraced' was left out: it has no input_signature" in out
    assert "parity with TensorFlow (atol 0.01, rtol 0.01):" in out
    assert out.count(": ok") == 2
    interpreter = pysig.Interpreter(str(out_path))
    assert interpreter.get_signature_list() == {
        "predict": {"inputs": ["x_input"], "outputs": ["embedding", "scores"]}
    }
    predict = interpreter.get_signature_runner("predict")
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    outputs = predict(x_input=x)
    wrapper = guide.Wrapper()  # kept: its tf.function holds it weakly
    expected = wrapper.predict(tf.constant(x))
    for name in ("scores", "embedding"):
        np.testing.assert_allclose(outputs[name], expected[name].numpy(), rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(outputs["scores"].sum(axis=1), 1, rtol=1e-3)


def test_parity_beyond_tolerance_exits_1(tmp_path: Path) -> None:
    out_path = tmp_path / "wrapper.tflite"
    result = pysig_convert(
        f"{EXAMPLES}:Wrapper", "-o", out_path, "--quantize", "float16", "--atol", "0", "--rtol", "0"
    )
    assert result.returncode == 1
    assert "MISMATCH in " in result.stdout
    assert "differ from TensorFlow beyond the tolerances" in result.stderr


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("missing_dir", "is not a SavedModel directory, a Keras file"),
        ("empty_dir", "is a directory without a saved_model.pb"),
        ("missing.keras", "Keras file"),
        (f"{EXAMPLES}:Nothing", "has no 'Nothing'"),
        (f"{EXAMPLES}:KERAS_SEED", "is a int, not a tf.Module or a Keras model"),
    ],
)
@pytest.mark.usefixtures("tf")  # imported first, with the warning it raises muted
def test_sources_that_cannot_be_read(tmp_path: Path, source: str, message: str) -> None:
    from pysig.convert.sources import load_source

    (tmp_path / "empty_dir").mkdir()
    path = source if ":" in source else str(tmp_path / source)
    with pytest.raises(pysig.ConversionError, match=re.escape(message)):
        load_source(path, tmp_path)


def test_a_broken_saved_model_exits_1(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "saved_model.pb").write_bytes(b"not a protocol buffer")
    result = pysig_convert(tmp_path / "broken", "-o", tmp_path / "out.tflite")
    assert result.returncode == 1, result.stderr
    assert "pysig: error: cannot load the SavedModel" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.usefixtures("tf")
def test_representative_data_must_fit_the_signatures(
    keras_files: dict[str, Path], tmp_path: Path
) -> None:
    from pysig.bench.inputs import BadArgument
    from pysig.convert.converter import representative_samples, signature_functions
    from pysig.convert.sources import load_source

    functions = signature_functions(
        load_source(str(keras_files[".keras"]), tmp_path).saved_model_dir
    )
    keys = ["serving_default"]
    good = tmp_path / "good.npz"
    np.savez(good, x_input=np.zeros((3, 4), np.float32))
    samples = representative_samples(str(good), keys, functions)
    assert [(key, list(inputs), inputs["x_input"].shape) for key, inputs in samples] == [
        ("serving_default", ["x_input"], (1, 4))
    ] * 3
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x=np.zeros((3, 4), np.float32))
    with pytest.raises(BadArgument, match="has no array serving_default/x_input or x_input"):
        representative_samples(str(wrong), keys, functions)
    with pytest.raises(BadArgument, match="cannot read"):
        representative_samples(str(tmp_path / "missing.npz"), keys, functions)


def test_another_tensorflow_release_is_refused(tf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from pysig.convert.converter import check_tensorflow_version

    check_tensorflow_version()  # the 2.14 installed here
    monkeypatch.setattr(tf, "__version__", "2.18.0")
    with pytest.raises(pysig.ConversionError, match=r"this is TensorFlow 2\.18\.0"):
        check_tensorflow_version()
