"""``python -m pytest_llmops``: see ``pytest_llmops.cli``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
