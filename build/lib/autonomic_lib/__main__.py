"""Allow `python -m autonomic_lib`."""

import sys

from .cli import main

sys.exit(main())
