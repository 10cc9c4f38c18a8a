"""`python -m launcher ...`: the service commands without the engine's `enas` entry point."""

import sys

from launcher.cli import main

if __name__ == "__main__":
    sys.exit(main())
