"""Launcher: ``python cli.py ARGS`` is the same as ``lusfeat ARGS``."""

from lusfeat.cli import main

if __name__ == "__main__":
    main()
