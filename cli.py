"""Launcher: ``python cli.py ARGS`` is the same as ``lusfeat ARGS``."""

import sys

if __name__ == "__main__":
    try:
        from lusfeat.cli import main
    except ModuleNotFoundError as exc:  # run with an interpreter that lacks lusfeat's dependencies
        sys.stderr.write(
            f"error: {exc} in {sys.executable}; install lusfeat first "
            f"(python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 -e .)\n"
        )
        sys.exit(1)
    main()
