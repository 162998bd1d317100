"""Zero-copy views: they alias tensor memory, keep the interpreter alive and block moves."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import pysig


def test_input_views_are_writable_and_alias_tensor_memory(demo: pysig.Interpreter) -> None:
    add = demo.get_signature_runner("add")
    x, y = add.inputs["x"], add.inputs["y"]
    assert x.flags.writeable
    assert x.shape == (1, 4)
    assert x.dtype == np.float32
    x[...] = [[1, 2, 3, 4]]
    y[...] = 10
    add.invoke()
    np.testing.assert_array_equal(add.outputs["sum"], [[11, 12, 13, 14]])
    # A second view of the same input sees what the first one wrote.
    np.testing.assert_array_equal(add.inputs["x"], [[1, 2, 3, 4]])


def test_output_views_are_read_only_and_updated_in_place(demo: pysig.Interpreter) -> None:
    add = demo.get_signature_runner("add")
    out = add.outputs["sum"]
    assert not out.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        out[0, 0] = 1
    add.inputs["x"][...] = 1
    add.inputs["y"][...] = 2
    add.invoke()
    np.testing.assert_array_equal(out, np.full((1, 4), 3, np.float32))
    add.inputs["y"][...] = 5
    add.invoke()
    np.testing.assert_array_equal(out, np.full((1, 4), 6, np.float32))


def test_zero_copy_path_matches_dict_call(
    demo: pysig.Interpreter, rng: np.random.Generator
) -> None:
    scale = demo.get_signature_runner("scale")
    x = rng.standard_normal((1, 4)).astype(np.float32)
    expected = scale(x=x)["y"]
    scale.inputs["x"][...] = x
    scale.invoke()
    assert scale.outputs["y"].tobytes() == expected.tobytes()


def test_views_keep_the_interpreter_alive(rng: np.random.Generator) -> None:
    interp = pysig.Interpreter(pysig.DEMO_MODEL_PATH)
    add = interp.get_signature_runner("add")
    add(x=np.ones((1, 4), np.float32), y=np.full((1, 4), 2, np.float32))
    out = add.outputs["sum"]
    x_view = add.inputs["x"]
    del interp, add
    gc.collect()
    # Touching freed memory here would be a use-after-free; the view owns a reference.
    np.testing.assert_array_equal(out, np.full((1, 4), 3, np.float32))
    x_view[...] = rng.standard_normal((1, 4))
    assert np.isfinite(x_view).all()


def test_resize_with_live_views_is_refused(demo: pysig.Interpreter) -> None:
    scale = demo.get_signature_runner("scale")
    view = scale.inputs["x"]
    with pytest.raises(pysig.BufferInUseError, match="1 zero-copy view"):
        scale(x=np.ones((3, 4), np.float32))
    with pytest.raises(pysig.BufferInUseError):
        scale.resize_input("x", [2, 4])
    # Same shape: no memory moves, so the call goes through.
    np.testing.assert_array_equal(scale(x=np.ones((1, 4), np.float32))["y"], np.full((1, 4), 3.5))
    derived = view[0]  # arrays derived from a view keep it alive too
    del view
    with pytest.raises(pysig.BufferInUseError):
        scale(x=np.ones((3, 4), np.float32))
    del derived
    assert scale(x=np.ones((3, 4), np.float32))["y"].shape == (3, 4)


def test_views_after_resize_have_the_new_shape(demo: pysig.Interpreter) -> None:
    scale = demo.get_signature_runner("scale")
    scale.resize_input("x", [5, 4])
    scale.allocate()
    x = scale.inputs["x"]
    assert x.shape == (5, 4)
    x[...] = 2
    scale.invoke()
    np.testing.assert_array_equal(scale.outputs["y"], np.full((5, 4), 6, np.float32))


def test_views_are_allocated_lazily_after_resize(demo: pysig.Interpreter) -> None:
    scale = demo.get_signature_runner("scale")
    scale.resize_input("x", [2, 4])
    # No explicit allocate(): asking for a view allocates first, never exposing stale memory.
    assert scale.inputs["x"].shape == (2, 4)
    assert scale.outputs["y"].shape == (2, 4)


def test_close_with_live_views_is_refused() -> None:
    interp = pysig.Interpreter(pysig.DEMO_MODEL_PATH)
    add = interp.get_signature_runner("add")
    view = add.outputs["sum"]
    with pytest.raises(pysig.BufferInUseError):
        interp.close()
    assert not interp.closed
    del view
    interp.close()
    assert interp.closed
    with pytest.raises(pysig.ClosedError):
        add(x=np.ones((1, 4), np.float32), y=np.ones((1, 4), np.float32))
    with pytest.raises(pysig.ClosedError):
        add.invoke()
    with pytest.raises(pysig.ClosedError):
        add.inputs["x"]
    with pytest.raises(pysig.ClosedError):
        add.get_input_details()


def test_inputs_and_outputs_are_mappings_of_names(demo: pysig.Interpreter) -> None:
    argmax = demo.get_signature_runner("argmax")
    assert list(argmax.inputs) == ["x"]
    assert set(argmax.outputs) == {"index", "max"}
    assert len(argmax.outputs) == 2
    with pytest.raises(pysig.NameNotFoundError, match="'index'"):
        argmax.outputs["nope"]
    with pytest.raises(KeyError):
        argmax.inputs["nope"]
