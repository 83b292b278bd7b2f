"""The `nux` command line. Each subcommand lives in its own module and registers itself on `app`.

Errors derived from NuxError (and file errors) print one line, `nux: error: ...`, and exit 1; no traceback.
"""

from __future__ import annotations

import importlib
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
    "nux.cli.quantize",
    "nux.cli.rtl",
    "nux.cli.sim",
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `nux` script."""
    _register_all()
    try:
        app(args=argv, standalone_mode=False)
    except (NuxError, OSError, ValueError) as exc:
        print(f"nux: error: {exc}", file=sys.stderr)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print("nux: aborted", file=sys.stderr)
        return 130
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
