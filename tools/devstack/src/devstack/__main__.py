"""``python -m devstack up|down|status|logs|topics|token|generate|new-service|images``."""

import os
import sys

from devstack.cli import main

try:
    sys.exit(main())
except BrokenPipeError:  # e.g. `python -m devstack logs | head`
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(1)
