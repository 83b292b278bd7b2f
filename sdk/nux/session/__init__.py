"""nux.session: run a model on an NPU from Python — compile on the fly, quantize inputs, dequantize outputs, run
host fallbacks, keep several inferences in flight. docs/session.md.

    with nux.session.create(quantized_model, device="golden") as sess:
        sess.summary()
        (y,) = sess.run(x)                      # outputs: a list of arrays in output order
        future = sess.submit(x)                 # concurrent.futures.Future of the same list

    submitter, queue = nux.session.create_async("net.enf", device="sim")
    submitter.submit(x, context=0)
    context, outputs = queue.recv(timeout=10)
"""

from nux.session.asynchronous import CompletionQueue, InferenceError, RecvTimeout, Submitter, create_async
from nux.session.session import Session, create, default_device
from nux.session.source import cache_dir
from nux.session.tensors import InputError, InputTypeError, SessionError, TensorDesc

__all__ = [
    "create", "create_async", "Session", "Submitter", "CompletionQueue", "TensorDesc", "SessionError",
    "InputError", "InputTypeError", "InferenceError", "RecvTimeout", "cache_dir", "default_device",
]
