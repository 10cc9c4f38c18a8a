"""`python -m enas_client jobs list`: the remote CLI without the engine installed."""

import sys

from .cli import main

sys.exit(main())
