"""Flex (Select TF) models on the tflite runtime with TensorFlow 2.14 installed: the guide's
encode/decode round trip in pysig equals tf.lite.Interpreter's, through Pool and threads."""

from __future__ import annotations

import textwrap
import threading
from typing import Any

import numpy as np
import pytest
from _support import assert_bitwise_equal, import_tensorflow, model_path, run_python

import pysig
from pysig.runtime import choose
from pysig.runtime.choose import installed

pytestmark = pytest.mark.tensorflow

FLEX_MODEL = model_path("flex_encode_decode")
# Flex ops run on the tflite runtime only: the tests ask for it, except where "auto" is tested.
AUTO_ORDER = choose.AUTO_ORDER


@pytest.fixture(scope="module")
def tf() -> Any:
    return import_tensorflow()


def guide_round_trip(interpreter: Any, values: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The guide's calls: encode and decode runners by key, called with keyword inputs."""
    encode = interpreter.get_signature_runner("encode")
    decode = interpreter.get_signature_runner("decode")
    encoded = encode(x=values)
    decoded = decode(x=encoded["encoded_result"])
    return dict(encoded), dict(decoded)


def test_round_trip_equals_tf_lite_interpreter(tf: Any) -> None:
    values = tf.constant([1, 2, 3], dtype=tf.float32)
    expected = guide_round_trip(tf.lite.Interpreter(model_path=FLEX_MODEL), values)
    interpreter = pysig.Interpreter(FLEX_MODEL, runtime="tflite")
    assert (
        interpreter.get_signature_list()
        == tf.lite.Interpreter(model_path=FLEX_MODEL).get_signature_list()
    )
    actual = guide_round_trip(interpreter, values)
    for mine, theirs in zip(actual, expected):
        assert_bitwise_equal(mine, theirs)
    assert actual[0]["encoded_result"].tolist() == [b"1.000000", b"2.000000", b"3.000000"]
    assert actual[1]["decoded_result"].tolist() == [1.0, 2.0, 3.0]


def random_values(rng: np.random.Generator, size: int) -> Any:
    return (rng.standard_normal(size) * 1000).astype(np.float32)


def test_resized_inputs_equal_tf_lite_interpreter(tf: Any, rng: np.random.Generator) -> None:
    reference = tf.lite.Interpreter(model_path=FLEX_MODEL)
    interpreter = pysig.Interpreter(FLEX_MODEL, num_threads=2, runtime="tflite")
    for size in (1, 7, 100, 3):
        values = random_values(rng, size)
        for mine, theirs in zip(
            guide_round_trip(interpreter, values), guide_round_trip(reference, values)
        ):
            assert_bitwise_equal(mine, theirs)


def test_pool_and_four_threads_equal_tf_lite_interpreter(tf: Any, rng: np.random.Generator) -> None:
    batches = [random_values(rng, n) for n in (1, 5, 17, 64) * 4]
    reference = tf.lite.Interpreter(model_path=FLEX_MODEL)
    expected = [guide_round_trip(reference, values) for values in batches]

    with pysig.Pool(FLEX_MODEL, size=2, runtime="tflite") as pool:
        encoded = [pool.submit("encode", x=values) for values in batches]
        for future, (theirs, _) in zip(encoded, expected):
            assert_bitwise_equal(future.result(), theirs)
        decoded = list(pool.map("decode", [{"x": e["encoded_result"]} for e, _ in expected]))
        for mine, (_, theirs) in zip(decoded, expected):
            assert_bitwise_equal(mine, theirs)

    shared = pysig.Interpreter(FLEX_MODEL, runtime="tflite")
    failures: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for index in range(offset, len(batches), 4):
                for mine, theirs in zip(guide_round_trip(shared, batches[index]), expected[index]):
                    assert_bitwise_equal(mine, theirs)
        except BaseException as error:  # noqa: BLE001  reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


@pytest.mark.parametrize("op_resolver", ["auto", "builtin", "builtin_without_default_delegates"])
def test_op_resolvers_that_run_flex(op_resolver: str) -> None:
    encode = pysig.Interpreter(
        FLEX_MODEL, op_resolver=op_resolver, runtime="tflite"
    ).get_signature_runner("encode")
    assert encode(x=[1.5])["encoded_result"].tolist() == [b"1.500000"]


def test_the_reference_op_resolver_is_refused_for_flex() -> None:
    with pytest.raises(pysig.FlexOpError, match='op_resolver="builtin_ref"') as info:
        pysig.Interpreter(FLEX_MODEL, op_resolver="builtin_ref", runtime="tflite")
    assert info.value.ops == ("FlexAsString", "FlexStringToNumber")


def test_a_string_that_is_no_number_is_an_invoke_error() -> None:
    decode = pysig.Interpreter(FLEX_MODEL, runtime="tflite").get_signature_runner("decode")
    with pytest.raises(pysig.InvokeError, match="StringToNumber"):
        decode(x=np.array([b"1.5", b"one"], dtype=object))
    assert decode(x=np.array([b"2.5"], dtype=object))["decoded_result"].tolist() == [2.5]


def test_library_loads_once_lazily_locally_and_without_importing_tensorflow() -> None:
    code = f"""
        import ctypes, sys
        import pysig
        from pysig.runtime import flex

        def mapped():
            with open("/proc/self/maps") as maps:
                return "_pywrap_tensorflow_internal.so" in maps.read()

        pysig.Interpreter(pysig.DEMO_MODEL_PATH)
        print("after a builtin-only model:", mapped(), flex._library is None)
        first = pysig.Interpreter({FLEX_MODEL!r})
        library = flex._library
        for _ in range(3):
            pysig.Interpreter({FLEX_MODEL!r}).close()
        print("after Flex models:", mapped(), flex._library is library)
        print("tensorflow imported:", "tensorflow" in sys.modules)
        # RTLD_LOCAL: the library's symbols are not in the process's global namespace.
        print("global:", hasattr(ctypes.CDLL(None), "TF_AcquireFlexDelegate"),
              "own:", hasattr(library, "TF_AcquireFlexDelegate"))
        encode = first.get_signature_runner("encode")
        print(encode(x=[0.5])["encoded_result"].tolist())
        """
    out = run_python(textwrap.dedent(code), timeout=120)
    assert out.splitlines() == [
        "after a builtin-only model: False True",
        "after Flex models: True True",
        "tensorflow imported: False",
        "global: False own: True",
        "[b'0.500000']",
    ]


def test_import_pysig_and_other_commands_do_not_import_tensorflow() -> None:
    code = """
        import sys
        import pysig
        from pysig import cli
        assert cli.main(["info"]) == 0
        assert cli.main(["run", "--signature", "add"]) == 0
        print(sorted(name for name in sys.modules if name.split(".")[0] == "tensorflow"))
        """
    out = run_python(textwrap.dedent(code), timeout=120)
    assert out.splitlines()[-1] == "[]"


def test_info_says_the_tflite_runtime_runs_the_flex_ops() -> None:
    out = run_python(
        f"from pysig import cli; raise SystemExit(cli.main(['info', {FLEX_MODEL!r}]))", timeout=120
    )
    assert "tflite: has every operator the model uses" in out


def test_runtime_choice_for_flex_models(monkeypatch: pytest.MonkeyPatch) -> None:
    # The suite's fixture narrows "auto" to one runtime per test; here it is the real rule.
    monkeypatch.setattr(choose, "AUTO_ORDER", AUTO_ORDER)
    if not installed("litert"):
        pytest.fail("the tensorflow group's venv has ai-edge-litert (the test extra's edit extra)")
    with pytest.raises(pysig.FlexOpError, match='Flex ops need runtime="tflite"') as info:
        pysig.Interpreter(FLEX_MODEL, runtime="litert")
    assert info.value.ops == ("FlexAsString", "FlexStringToNumber")
    interpreter = pysig.Interpreter(FLEX_MODEL, runtime="auto")
    assert interpreter.runtime == "tflite"
    encode = interpreter.get_signature_runner("encode")
    assert encode(x=[2.0])["encoded_result"].tolist() == [b"2.000000"]
