"""nux.session.create / run: every input form, quantization at the edges, metadata, host fallbacks, the compile
cache, and every kind of bad input or failing device as one clear typed error."""

from __future__ import annotations

import numpy as np
import nux.session
import onnx
import pytest
from nux.compiler import CompileError
from nux.enf import save_enf
from nux.executor import Executor
from nux.isa import ConfigError, NpuConfig
from nux.reference import run_onnx
from nux.session import InputError, InputTypeError, SessionError
from session_models import X_SHAPE, float_model


def executor_outputs(enf, x, raw=False):
    with Executor(enf, "golden") as ex:
        return ex.run({"x": x}, raw=raw)


def test_run_equals_the_executor_for_every_input_form(npu_enf, x):
    expected = executor_outputs(npu_enf, x)["y"]
    with nux.session.create(npu_enf) as sess:
        for inputs in (x, [x], (x,), {"x": x}):
            (y,) = sess.run(inputs)
            assert y.dtype == np.float32
            np.testing.assert_array_equal(y, expected)


def test_raw_exchanges_the_stored_integers(npu_enf, x):
    with nux.session.create(npu_enf) as sess:
        desc = sess.inputs()[0]
        q = desc.to_stored(x)
        (raw,) = sess.run(q, raw=True)
        (real,) = sess.run(x)
    out = sess.outputs()[0]
    assert q.dtype == np.int8 and raw.dtype == np.int8
    np.testing.assert_array_equal(raw, executor_outputs(npu_enf, q, raw=True)["y"])
    np.testing.assert_array_equal(real, (raw.astype(np.float32) - out.zero_point) * np.float32(out.scale))


def test_a_quantized_onnx_model_is_compiled_and_matches_onnxruntime(npu_qdq, x):
    with nux.session.create(npu_qdq, device="golden") as sess:
        (y,) = sess.run(x)
        step = sess.outputs()[0].scale
    ref = run_onnx(npu_qdq, {"x": x})["y"]
    assert np.mean(np.abs(y - ref) / step <= 1.001) >= 0.99  # within one output step, as the compiler tests


def test_onnx_path_and_bytes_and_enf_path_and_bytes(npu_qdq, npu_enf, x, tmp_path):
    onnx_path, enf_path = tmp_path / "m.onnx", tmp_path / "m.enf"
    onnx.save(npu_qdq, onnx_path)
    save_enf(npu_enf, enf_path)
    results = []
    for model in (onnx_path, str(onnx_path), npu_qdq.SerializeToString(), enf_path, enf_path.read_bytes()):
        with nux.session.create(model) as sess:
            results.append(sess.run(x)[0])
    for y in results[1:]:
        np.testing.assert_array_equal(y, results[0])


def test_metadata_and_summary(npu_enf, capsys):
    with nux.session.create(npu_enf) as sess:
        (i,), (o,) = sess.inputs(), sess.outputs()
        text = sess.summary()
    assert (i.index, i.name, i.shape, i.dtype, i.quant_dtype) == (0, "x", X_SHAPE, np.float32, np.int8)
    assert (o.name, o.shape, o.dtype) == ("y", (1, 3, 6, 6), np.float32)
    info = npu_enf.inputs()[0]
    assert (i.scale, i.zero_point) == (pytest.approx(info.scale), info.zero_point)
    with pytest.raises(AttributeError):
        i.name = "z"  # frozen
    printed = capsys.readouterr().out
    assert printed.strip() == text.strip()
    assert "1x2x8x8" in text and "float32" in text and "int8" in text and f"{i.scale:.6g}" in text
    assert "1 NPU step(s), 0 host step(s)" in text


def test_a_model_with_a_host_fallback_runs(fallback_enf, fallback_qdq, x):
    with nux.session.create(fallback_enf) as sess:
        assert sess.max_in_flight == 1
        (y,) = sess.run(x)
    np.testing.assert_array_equal(y, executor_outputs(fallback_enf, x)["y"])
    ref = run_onnx(fallback_qdq, {"x": x})["y"]
    assert np.mean(np.abs(y - ref) / fallback_enf.outputs()[0].scale <= 1.001) >= 0.99


def test_the_device_comes_from_nux_device(npu_enf, monkeypatch):
    monkeypatch.setenv("NUX_DEVICE", "no-such-backend")
    with pytest.raises(nux.driver.DeviceError, match="unknown device 'no-such-backend'"):
        nux.session.create(npu_enf)
    monkeypatch.setenv("NUX_DEVICE", "golden")
    with nux.session.create(npu_enf) as sess:
        assert "GoldenDevice" in repr(sess.npu.device)


# ---------------------------------------------------------------------------------------------- compile cache
def test_compile_cache_miss_then_hit(npu_qdq, x, monkeypatch):
    import nux.compiler

    calls = []
    real = nux.compiler.compile
    monkeypatch.setattr(nux.compiler, "compile", lambda *a, **k: calls.append(k) or real(*a, **k))
    with nux.session.create(npu_qdq) as sess:
        first = sess.run(x)[0]
    entries = list(nux.session.cache_dir().glob("*.enf"))
    assert len(calls) == 1 and len(entries) == 1
    with nux.session.create(npu_qdq) as sess:  # hit: no compile
        np.testing.assert_array_equal(sess.run(x)[0], first)
    assert len(calls) == 1
    with nux.session.create(npu_qdq, config=NpuConfig(dim=4, sp_rows=4096, acc_rows=1024)):  # another config
        pass
    with nux.session.create(npu_qdq, fallback=False):  # other options
        pass
    assert len(calls) == 3 and len(list(nux.session.cache_dir().glob("*.enf"))) == 3
    with nux.session.create(npu_qdq, cache=False):
        pass
    assert len(calls) == 4 and len(list(nux.session.cache_dir().glob("*.enf"))) == 3


def test_a_damaged_cache_entry_is_compiled_again(npu_qdq, x):
    with nux.session.create(npu_qdq) as sess:
        first = sess.run(x)[0]
    (entry,) = nux.session.cache_dir().glob("*.enf")
    entry.write_bytes(entry.read_bytes()[:100])
    with nux.session.create(npu_qdq) as sess:
        np.testing.assert_array_equal(sess.run(x)[0], first)
    assert entry.stat().st_size > 100


# ---------------------------------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def sess(npu_enf):
    with nux.session.create(npu_enf) as s:
        yield s


@pytest.mark.parametrize("value, raw, message", [
    (np.zeros(X_SHAPE, np.int8), False, r"input 'x' takes float values .* got int8 \(pass raw=True"),
    (np.zeros(X_SHAPE, np.int32), False, r"input 'x' takes float values .* got int32"),
    (np.zeros(X_SHAPE, np.float32), True, r"input 'x': expected int8 values \(raw\), got float32"),
    (np.zeros(X_SHAPE, np.uint8), True, r"expected int8 values \(raw\), got uint8"),
])
def test_a_wrong_dtype_is_a_type_error(sess, value, raw, message):
    with pytest.raises(InputTypeError, match=message) as info:
        sess.run(value, raw=raw)
    assert isinstance(info.value, TypeError) and isinstance(info.value, nux.errors.NuxError)


@pytest.mark.parametrize("inputs, message", [
    (np.zeros((1, 2, 8, 9), np.float32), r"input 'x': expected shape \(1, 2, 8, 8\), got \(1, 2, 8, 9\)"),
    (np.zeros((2, 2, 8, 8), np.float32), r"expected shape \(1, 2, 8, 8\), got \(2, 2, 8, 8\)"),
    (np.float32(1.0), r"expected shape \(1, 2, 8, 8\), got \(\)"),
    ({"x": np.zeros(X_SHAPE, np.float32), "z": 1}, r"inputs are \['x'\]; unknown \['z'\], missing \[\]"),
    ({"input": np.zeros(X_SHAPE, np.float32)}, r"unknown \['input'\], missing \['x'\]"),
    ([], r"takes 1 input\(s\) \['x'\]; got a list of 0"),
    ([np.zeros(X_SHAPE, np.float32)] * 2, r"got a list of 2"),
    (np.full(X_SHAPE, np.nan, np.float32), r"input 'x' contains NaN"),
])
def test_bad_inputs_are_value_errors(sess, inputs, message):
    with pytest.raises(InputError, match=message) as info:
        sess.run(inputs)
    assert isinstance(info.value, ValueError)
    with pytest.raises(InputError):
        sess.submit(inputs)  # checked at once, before anything is queued


def test_the_session_still_works_after_bad_inputs(sess, npu_enf, x):
    np.testing.assert_array_equal(sess.run(x)[0], executor_outputs(npu_enf, x)["y"])


def test_a_float_model_says_how_to_quantize_it():
    with pytest.raises(CompileError, match=r"the model is float32 .*quantize it first: `nux quantize"):
        nux.session.create(float_model("Relu"))


def test_an_enf_for_another_config_is_refused(npu_enf):
    with pytest.raises(ConfigError, match=r"compiled for NpuConfig\(dim=8.*does not fit this NPU \(NpuConfig\(dim=4"):
        nux.session.create(npu_enf, config=NpuConfig(dim=4, sp_rows=4096, acc_rows=1024))


@pytest.mark.parametrize("model, message", [
    (12, r"a session takes an ENF .* got int"),
    ("/no/such/model.enf", r"model /no/such/model.enf not found"),
    (b"not a model", r"is not an ONNX model"),
])
def test_unknown_models_are_refused(model, message):
    with pytest.raises(nux.errors.NuxError, match=message):
        nux.session.create(model)


def test_a_closed_session_refuses_work(npu_enf, x):
    s = nux.session.create(npu_enf)
    s.close()
    s.close()  # idempotent
    with pytest.raises(SessionError, match="the session is closed"):
        s.run(x)
    with pytest.raises(SessionError, match="the session is closed"):
        s.submit(x)


def test_a_hung_device_times_out_and_the_session_still_works(npu_enf, x):
    expected = executor_outputs(npu_enf, x)["y"]
    with nux.session.create(npu_enf, timeout=0.3, hang=True) as sess:
        with pytest.raises(nux.driver.NpuTimeout, match=r"did not finish within 0.3 s.*the NPU was reset"):
            sess.run(x)
        sess.npu.device.hang = False  # the golden model's test hook: the hardware recovers
        np.testing.assert_array_equal(sess.run(x)[0], expected)


def test_a_tflite_file_is_handed_to_the_compiler(test_data, npu_enf, x, monkeypatch):
    """The compiler's TFLite front end recognises the flatbuffer itself: the session passes the file on as is
    (and caches the result under the file's content)."""
    import nux.compiler

    path = test_data / "models" / "MNISTnet_uint8_quant_without_softmax.tflite"
    calls = []
    monkeypatch.setattr(nux.compiler, "compile", lambda model, config, **k: calls.append(model) or npu_enf)
    for _ in range(2):
        with nux.session.create(path) as sess:
            (y,) = sess.run(x)
    assert calls == [path]
    np.testing.assert_array_equal(y, executor_outputs(npu_enf, x)["y"])
