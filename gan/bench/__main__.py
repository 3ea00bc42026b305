"""``python -m gan.bench``: the training step timed against gan.py's loop (gan.bench.step)."""

import sys

from gan.bench.step import main

sys.exit(main())
