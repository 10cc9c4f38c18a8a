"""`python -m launcher ...`: the service commands without the engine's `enas` entry point."""

import sys

from launcher.cli import main

sys.exit(main())
