"""scikit-learn's digits (8x8, 1797 images) as test data, and a small CNN trained on them.

`mnist_images` turns them into MNIST-like 28x28 images (bicubic upscale to 16x16, centred, pixel values
0..255) so that the ONNX model zoo's mnist-8 can be evaluated on real digits. `train_cnn` trains a small
Conv+BN+ReLU network with torch in a few seconds and exports it with `torch.onnx.export`; it is made on the fly
(deterministic seed) instead of shipping a binary model.

Test and benchmark data only (scikit-learn, scipy, torch): it lives with the tests so the installed `nux` package
imports none of them.
"""

from __future__ import annotations

import io

import numpy as np
import onnx

TRAIN = 1200  # images [0, TRAIN) train the CNN and provide calibration samples; the rest are the test split


def digits() -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 1, 8, 8) float32 in [0, 1], labels (N,) int64)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images[:, None] / 16.0).astype(np.float32), data.target.astype(np.int64)


def mnist_images(images: np.ndarray, size: int = 16) -> np.ndarray:
    """8x8 digits -> (N, 1, 28, 28) float32, digit upscaled to size x size in the centre, values 0..255."""
    from scipy import ndimage

    zoomed = np.clip(np.stack([ndimage.zoom(x[0], size / 8, order=3) for x in images]), 0.0, 1.0)
    out = np.zeros((len(images), 1, 28, 28), np.float32)
    start = (28 - size) // 2
    out[:, 0, start:start + size, start:start + size] = zoomed * 255.0
    return out


def train_cnn(images: np.ndarray, labels: np.ndarray, epochs: int = 30, seed: int = 0) -> onnx.ModelProto:
    """Train Conv(1->8)+BN+ReLU, MaxPool, Conv(8->16)+ReLU, Flatten, Gemm(256->10), Softmax on 8x8 digits and
    export it (BatchNormalization kept, so optimize has something to fold)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network: threads only contend with pytest-xdist workers
    try:
        return _train_and_export(torch, nn, images, labels, epochs, seed)
    finally:
        torch.set_num_threads(threads)


def _train_and_export(torch, nn, images: np.ndarray, labels: np.ndarray, epochs: int, seed: int) -> onnx.ModelProto:
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 4 * 4, 10), nn.Softmax(dim=1),
    )
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(64):
            optimizer.zero_grad()
            probabilities = net(x[batch])
            loss = nn.functional.nll_loss(torch.log(probabilities + 1e-9), y[batch])
            loss.backward()
            optimizer.step()
    net.eval()
    buffer = io.BytesIO()
    torch.onnx.export(net, (x[:1],), buffer, input_names=["input"], output_names=["probabilities"],
                      dynamic_shapes=None, optimize=False)
    return onnx.load_model_from_string(buffer.getvalue())
