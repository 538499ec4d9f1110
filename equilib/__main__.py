"""``python -m equilib compare ...``: the same as the ``equilib`` console script."""

import sys

from equilib.compare.cli import main

if __name__ == "__main__":
    sys.exit(main())
