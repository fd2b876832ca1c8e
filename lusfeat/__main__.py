"""``python -m lusfeat ARGS`` is ``lusfeat ARGS`` (also under ``torchrun -m lusfeat``)."""

from .cli import main

if __name__ == "__main__":
    main()
