"""``python -m gan train ...``: the same as the ``gan`` console script."""

import sys

from gan.cli import main

if __name__ == "__main__":
    sys.exit(main())
