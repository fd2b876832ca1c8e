"""The command-line layer: one module of Typer commands per stage, registered by
:mod:`lusfeat.cli`. Commands import their stage lazily, so ``lusfeat --help`` stays fast."""
