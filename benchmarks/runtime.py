"""Host overhead of the Python runtime per synchronous inference, and inferences (tasks) per second on golden and
sim, sync and with K in flight, with p50/p95/p99 latencies.

    python benchmarks/runtime.py [-n 50] [--workers 4] [--devices golden,sim] [--model mnist-8.onnx]

The model (default: mnist-8 from $NUX_TEST_DATA, quantized with random calibration) is compiled for the dim-8
test configuration the sim tests build. Rows: "host only" is the session's host work per inference without the
device (check and quantize inputs, DMA and layout conversion both ways, dequantize): the host overhead.
"driver" is `LoadedModel.run()` alone (device time plus doorbell and polling). "session" is `Session.run` end to
end. The three are interleaved so that a busy machine slows them alike. "async" keeps K inferences in flight.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import nux.compiler
import nux.session
import onnx
from nux.isa import TEST_CONFIGS
from nux.quantizer import post_training_quantization
from nux.session.bench import Stats, measure_async, random_inputs, stats_table
from nux.session.tensors import stored_feeds

DEVICE_OPTIONS = {"golden": {}, "sim": {"progress": False, "dram_size": 1 << 24}}


def compiled_model(path: Path):
    model = onnx.load(path)
    names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    shapes = {i.name: [d.dim_value or 1 for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    rng = np.random.default_rng(0)
    calibration = [{n: rng.random(shapes[n], dtype=np.float32) for n in names} for _ in range(8)]
    return nux.compiler.compile(post_training_quantization(model, names, calibration), TEST_CONFIGS[1])


def _timed(call) -> float:
    t = time.perf_counter()
    call()
    return (time.perf_counter() - t) * 1e6


def paired(sess: nux.session.Session, inputs: list[np.ndarray], n: int) -> tuple[Stats, Stats, Stats]:
    """Interleaved, so a busy machine slows all alike: n host-only passes (check and quantize the inputs, write
    them, read and dequantize the outputs, no device run), n driver-only runs (`LoadedModel.run()` of another copy
    of the model on the session's NPU) and n `Session.run`s."""
    model = sess.npu.load(sess.enf)
    stored = stored_feeds(sess.inputs(), inputs)
    host, driver, session = [], [], []

    def host_only() -> None:
        for name, value in stored_feeds(sess.inputs(), inputs).items():
            model.set_input(name, value)
        for desc in sess.outputs():
            desc.from_stored(model.get_output(desc.name))

    for _ in range(n):
        host.append(_timed(host_only))
        for name, value in stored.items():
            model.set_input(name, value)
        driver.append(_timed(model.run))
        session.append(_timed(lambda: sess.run(inputs)))
    model.unload()
    return tuple(Stats(name, "sync", 1, sum(lat) / 1e6, tuple(lat))
                 for name, lat in (("host only", host), ("driver", driver), ("session", session)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="inferences per row")
    parser.add_argument("--workers", type=int, default=4, help="inferences in flight (async rows)")
    parser.add_argument("--devices", default="golden,sim")
    default_model = Path(os.environ.get("NUX_TEST_DATA", Path(__file__).parents[2] / "shared" / "data"))
    parser.add_argument("--model", type=Path, default=default_model / "models" / "mnist-8.onnx")
    args = parser.parse_args()

    enf = compiled_model(args.model)
    print(f"{args.model.name}: {len(enf.programs)} NPU program(s), {len(enf.host_graphs)} host graph(s), "
          f"arena {enf.arena_size:,} bytes, {enf.config}")
    for device in args.devices.split(","):
        with nux.session.create(enf, device, max_in_flight=args.workers, **DEVICE_OPTIONS.get(device, {})) as sess:
            inputs = random_inputs(sess.inputs())
            sess.run(inputs)  # warm-up
            rows = [*paired(sess, inputs, args.n), measure_async(sess, inputs, args.n, args.workers,
                                                                  runtime="session")]
        print(f"\n{device}:")
        print(stats_table(rows))


if __name__ == "__main__":
    main()
