"""``python -m study.run --num-samples 50``: search the vanilla GAN's hyperparameters.

A launcher: it runs the CLI (:mod:`study.cli`) in a session of its own under a
thin supervisor (:mod:`study.supervise`), so that a signal sent to the whole
process group (``timeout``, batch schedulers) stops the study gracefully instead
of killing its Ray processes with it. ``--help`` lists the flags.
"""

import os
import sys

from study.supervise import is_supervised, supervise

if __name__ == "__main__":
    if not is_supervised():
        sys.exit(supervise("study.run", sys.argv[1:]))
    from study.cli import main  # only in the supervised child: the parent stays light

    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    sys.exit(main())
