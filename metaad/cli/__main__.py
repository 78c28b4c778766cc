"""``python -m metaad.cli``: the same as the ``metaad`` console script."""

from metaad.cli import main

if __name__ == "__main__":
    main()
