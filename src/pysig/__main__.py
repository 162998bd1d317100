"""``python -m pysig``: the same as the ``pysig`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
