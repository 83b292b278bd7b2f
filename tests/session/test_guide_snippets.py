"""The guide's Python snippets as written (modulo its typos): the one-click quantization followed by
`with nux.session.create(quantized_model) as sess:`, and the sync-model API `model.load_tflite('../model.enf')`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import nux
import onnx
import pytest
from nux.enf import save_enf
from nux.reference import run_onnx

TESTS = Path(__file__).parents[1]


def test_one_click_quantization_then_a_session_on_mnist(test_data):
    import digits

    images, labels = digits.digits()
    x = digits.mnist_images(images)
    # --- the guide: model, input_tensors, calibration_data -> post_training_quantization -> session.create
    model = onnx.load(test_data / "models" / "mnist-8.onnx")
    input_tensors = ["Input3"]
    calibration_data = [{"Input3": s[None]} for s in x[:100]]
    quantized_model = nux.quantizer.post_training_quantization(model, input_tensors, calibration_data)
    with nux.session.create(quantized_model) as sess:
        test = x[digits.TRAIN:digits.TRAIN + 20]
        ours = np.concatenate([sess.run(s[None])[0] for s in test])
    ref = np.concatenate([run_onnx(quantized_model, {"Input3": s[None]})["Plus214_Output_0"] for s in test])
    assert np.mean(ours.argmax(1) == ref.argmax(1)) >= 0.95
    assert np.mean(ours.argmax(1) == labels[digits.TRAIN:digits.TRAIN + 20]) >= 0.8


def test_the_sync_model_api_as_the_guide_writes_it(npu_enf, tmp_path, monkeypatch, x):
    save_enf(npu_enf, tmp_path / "model.enf")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    # --- the guide, verbatim (it rebinds `model` to the loaded model inside the with block)
    from nux import model
    with model.load_tflite('../model.enf') as model:
        nInputs = model.input_num()  # noqa: N806 - the guide's spelling
        nOutputs = model.output_num()  # noqa: N806
        outputs = model.run([x])
        assert model.input(0).name == "x" and model.output(0).shape == (1, 3, 6, 6)
        with pytest.raises(nux.model.TensorIndexError, match=r"1 input\(s\); no input index 1"):
            model.input(1)
        with pytest.raises(IndexError, match=r"no output index -1"):
            model.output(-1)
    assert (nInputs, nOutputs) == (1, 1)
    with nux.session.create(npu_enf) as sess:
        np.testing.assert_array_equal(outputs[0], sess.run(x)[0])


@pytest.mark.slow
def test_the_guides_example_net_end_to_end():
    """ExampleNet (1x3x224x224) exported with torch, quantized with random calibration, run in a session
    (about a minute: the export alone takes ~20 s)."""
    from example_net import export_example_net

    model = export_example_net()
    quantized_model = nux.quantizer.post_training_quantization(model, ["input"])
    x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    with nux.session.create(quantized_model) as sess:
        (y,) = sess.run(x)
    ref = run_onnx(quantized_model, {"input": x})["output"]
    assert np.mean(np.abs(y - ref) / sess.outputs()[0].scale <= 1.001) >= 0.99
