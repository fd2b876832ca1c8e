"""The ``lusfeat`` command-line interface: one Typer app, one module per stage.

Each stage's commands live in ``lusfeat/_commands/<stage>.py`` with a
``register(app)`` function; commands parse options, call the stage's library
API and print. Heavy imports (torch, xgboost, cupy) happen inside commands so
``lusfeat --help`` stays instant.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer
from rich.console import Console
from rich.markup import escape

from ._errors import LusfeatError

app = typer.Typer(
    name="lusfeat",
    help="Lung ultrasound: confidence-aware segmentation, morphology features and clinical analysis.\n\n"
         "Examples: lusfeat demo --out lusfeat-demo; lusfeat simulate cohort --patients 12 --size 64; "
         "lusfeat validate cohort; lusfeat COMMAND --help",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

#: Stage modules that contribute commands, in help order.
_STAGE_CLI_MODULES = (
    "lusfeat._commands.data",
    "lusfeat._commands.ingest",
    "lusfeat._commands.export",
    "lusfeat._commands.seg",
    "lusfeat._commands.features",
    "lusfeat._commands.stats",
    "lusfeat._commands.pipeline",
    "lusfeat._commands.report",
)

err_console = Console(stderr=True)


def _show_version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"lusfeat {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only log warnings and errors; no progress."),
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """lusfeat command-line interface: logging to standard error (rich on a terminal,
    plain time-stamped lines in a log)."""
    from rich.logging import RichHandler

    from ._progress import set_quiet, stderr_is_terminal

    set_quiet(quiet)
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logger = logging.getLogger("lusfeat")
    handler: logging.Handler
    if stderr_is_terminal():
        handler = RichHandler(console=err_console, show_path=False, markup=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


def _register_all() -> None:
    for name in _STAGE_CLI_MODULES:
        importlib.import_module(name).register(app)


_register_all()


def _usage_exception_types() -> tuple[type[BaseException], type[BaseException]]:
    """The exception classes of command-line usage errors and aborts, found through
    Typer: recent Typer vendors its own Click (``typer.TyperException`` is the base of
    its ``ClickException``), older Typer re-exports the ``click`` package."""
    base = getattr(typer, "TyperException", None)
    if base is not None:
        return base, typer.Abort
    legacy = typer.core.click  # typer < 0.20 depends on click and imports it here
    return legacy.exceptions.ClickException, legacy.exceptions.Abort


def _red_line(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _tune_memory() -> None:
    """glibc allocator settings for this run and the processes it starts (see :mod:`lusfeat._memory`)."""
    from ._memory import tune_process

    tune_process()


def main(args: list[str] | None = None) -> None:
    """Console-script entry point: one error path for every command.

    Usage errors (unknown option or command, a value of the wrong type, a
    missing argument) print the usage line and one message and exit 2; lusfeat
    errors print one red line and exit 1; operating-system errors (permission
    denied, disk full) print one red line naming the file and exit 1; Ctrl-C
    exits 130. Help and ``--version`` exit 0.

    Parameters
    ----------
    args : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).
    """
    usage_error, abort = _usage_exception_types()
    _tune_memory()
    try:
        rv = app(args=args, prog_name="lusfeat", standalone_mode=False)
    except LusfeatError as exc:
        _red_line(str(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]; finished outputs are kept, partial ones discarded")
        sys.exit(130)
    except usage_error as exc:
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            _red_line(exc.format_message())
        sys.exit(int(getattr(exc, "exit_code", 1)))
    except abort:
        err_console.print("aborted")
        sys.exit(1)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        _red_line(f"{exc.strerror or exc}{where}; check the path, its permissions and free disk space")
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
