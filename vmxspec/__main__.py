"""Lets ``python -m vmxspec`` behave exactly like the console script."""

import sys

from vmxspec.cli import main

sys.exit(main())
