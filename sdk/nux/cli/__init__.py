"""The `nux` command line. Each subcommand lives in its own module and registers itself on `app`.

Exit codes and what goes to stderr (never a traceback unless NUX_TRACEBACK=1 asks for one):

* 1: bad input or a failing device: a NuxError or a file error (OSError), one line `nux: error: ...`;
* 2: a usage error (unknown command or option, bad option value): Typer's usage message;
* 70 (EX_SOFTWARE): anything else is a bug in nux: one line `nux: internal error: TYPE: message` and one hint line;
* 130: interrupted (Ctrl-C).
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from nux.errors import NuxError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="nux: an open int8 NPU and its SDK.")


@app.callback()
def _root() -> None:
    """nux: quantize, compile and run int8 models on the nux NPU (golden model, Verilator, AWS F1/F2)."""
    # A callback keeps Typer from collapsing the app into its only command when one module is registered.

# Modules that define subcommands; each has `register(app: typer.Typer) -> None`.
COMMAND_MODULES = [
    "nux.cli.info",
    "nux.cli.isa_tools",
    "nux.cli.enf_tools",
    "nux.cli.compile",
    "nux.cli.run",
    "nux.cli.bench",
    "nux.cli.quantize",
    "nux.cli.rtl",
    "nux.cli.sim",
    "nux.cli.aws",
    "nux.cli.config",
]


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # subcommand not written yet
                continue
            raise
        module.register(app)


EXIT_ERROR, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 1, 2, 70, 130
TRACEBACK_VARIABLE = "NUX_TRACEBACK"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `nux` script: run one command and turn every failure into an exit code (module docstring)."""
    _register_all()
    try:
        app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print("nux: aborted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (NuxError, OSError) as exc:
        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        print(f"nux: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except typer.TyperException as exc:  # usage errors: Typer's own click raises these, with a show() method
        show = getattr(exc, "show", None)
        if show is None:
            print(f"nux: error: {exc.format_message()}", file=sys.stderr)
        else:
            show()
        return getattr(exc, "exit_code", EXIT_USAGE)
    except Exception as exc:  # noqa: BLE001 - the last resort: a bug, reported in one line plus a hint
        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        print(f"nux: internal error: {_one_line(exc)}", file=sys.stderr)
        print(f"nux: hint: this is a bug in nux, not in your input; rerun with {TRACEBACK_VARIABLE}=1 for the "
              "traceback and report it", file=sys.stderr)
        return EXIT_BUG
    return 0


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
