"""From whatever a user hands `nux.session.create` to an ENF: ENF files pass through; anything else (quantized
ONNX as ModelProto, path or bytes; TFLite files) goes through `nux.compiler.compile`, behind an on-disk cache.

The cache key is a hash of the model's bytes, the NpuConfig, the compile options and the sources of the
compiler and the layers it encodes for (nux.compiler, nux.enf, nux.isa), so an edited compiler never serves a
stale executable. Entries are written atomically (`nux.enf.save_enf`), under a file lock so parallel processes
compile a model once. Location: `$NUX_CACHE`, else `$XDG_CACHE_HOME/nux/compile`, else
`~/.cache/nux/compile`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import onnx
from filelock import FileLock

from nux.enf import MAGIC, Enf, EnfError, load_enf, read_enf, save_enf
from nux.isa import ISA_VERSION, NpuConfig
from nux.session.tensors import SessionError

#: A model that still has to be compiled, kept as given (the compiler's front ends recognise TFLite by its file
#: identifier).
Source = onnx.ModelProto | bytes | str | os.PathLike


def cache_dir() -> Path:
    """Where compiled models are cached (created on demand)."""
    env = os.environ.get("NUX_CACHE")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nux" / "compile"


def as_enf(model: object) -> Enf | None:
    """The Enf `model` is (an Enf, ENF bytes, or the path of an ENF file), or None when it must be compiled."""
    if isinstance(model, Enf):
        return model
    if isinstance(model, bytes | bytearray | memoryview):
        return read_enf(bytes(model)) if bytes(model[: len(MAGIC)]) == MAGIC else None
    if isinstance(model, str | os.PathLike):
        path = Path(model)
        if not path.is_file():
            raise SessionError(f"model {path} not found")
        with path.open("rb") as f:
            head = f.read(len(MAGIC))
        return load_enf(path) if head == MAGIC else None
    if isinstance(model, onnx.ModelProto):
        return None
    raise SessionError(f"a session takes an ENF (Enf, bytes or path), a quantized ONNX model (ModelProto, bytes or "
                       f"path) or a TFLite file; got {type(model).__name__}")


def _content(model: Source) -> bytes:
    if isinstance(model, bytes | bytearray | memoryview):
        return bytes(model)
    if isinstance(model, str | os.PathLike):
        return Path(model).read_bytes()
    return model.SerializeToString()  # an onnx.ModelProto (as_enf let nothing else through)


@functools.cache
def _compiler_fingerprint() -> str:
    """A hash of every source file the compiled bytes depend on (computed once per process)."""
    import nux.compiler
    import nux.enf
    import nux.isa

    digest = hashlib.sha256()
    for package in (nux.compiler, nux.enf, nux.isa):
        root = Path(package.__file__).resolve().parent
        for source in sorted(root.rglob("*.py")):
            digest.update(f"{package.__name__}/{source.relative_to(root)}".encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def cache_key(model: Source, config: NpuConfig, options: Mapping[str, object]) -> str:
    """The cache entry name of `model` compiled for `config` with `options` (JSON-serialisable)."""
    digest = hashlib.sha256(_content(model))
    digest.update(json.dumps([config.to_dict(), options, _compiler_fingerprint()], sort_keys=True).encode())
    return digest.hexdigest()[:40]


def compile_cached(model: Source, config: NpuConfig, *, input_shapes: Mapping[str, Sequence[int]] | None = None,
                   fallback: bool = True, cache: bool = True, isa_minor: int = ISA_VERSION[1]) -> Enf:
    """`nux.compiler.compile(model, config, ...)`, memoised on disk when `cache` (see the module docstring);
    `isa_minor`: the ISA 1.x the device implements (a 1.0 NPU gets 1.0 programs)."""
    from nux.compiler import compile

    shapes = {k: [int(d) for d in v] for k, v in (input_shapes or {}).items()}
    options = dict(input_shapes=shapes, fallback=fallback, progress=None, isa_minor=isa_minor)
    if not cache:
        return compile(model, config, **options)
    key = {"input_shapes": shapes, "fallback": fallback, "isa_minor": isa_minor}
    path = cache_dir() / f"{cache_key(model, config, key)}.enf"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.with_suffix(".lock"))):
        if path.is_file():
            try:
                return load_enf(path)
            except EnfError:
                pass  # a damaged entry (disk trouble, an older format): compile it again
        enf = compile(model, config, **options)
        save_enf(enf, path)  # atomic: written to a temporary file, then renamed
    return enf
