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
    help="Lung ultrasound: confidence-aware segmentation, morphology features and clinical analysis.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

#: Stage modules that contribute commands, in help order.
_STAGE_CLI_MODULES = (
    "lusfeat._commands.data",
    "lusfeat._commands.ingest",
    "lusfeat._commands.seg",
    "lusfeat._commands.features",
    "lusfeat._commands.stats",
    "lusfeat._commands.pipeline",
    "lusfeat._commands.report",
)

err_console = Console(stderr=True)


@app.callback()
def _main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only log warnings and errors."),
) -> None:
    """lusfeat command-line interface."""
    from rich.logging import RichHandler

    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logger = logging.getLogger("lusfeat")
    logger.handlers[:] = [RichHandler(console=err_console, show_path=False, markup=False)]
    logger.setLevel(level)
    logger.propagate = False


def _register_all() -> None:
    for name in _STAGE_CLI_MODULES:
        importlib.import_module(name).register(app)


_register_all()


def main() -> None:
    """Console-script entry point: run the app, turning lusfeat errors into one red line."""
    try:
        app(standalone_mode=False)
    except LusfeatError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]; finished outputs are kept, partial ones discarded")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise
