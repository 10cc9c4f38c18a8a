"""`python -m enas_service ...`: the service commands without the engine's `enas` entry point."""

import sys

from enas_service.cli import main

sys.exit(main())
