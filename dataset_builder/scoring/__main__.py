"""``python -m dataset_builder.scoring ARGS``: runs ``dataset-builder score ARGS``.

The score command and its options are defined once, in :mod:`dataset_builder.cli.evaluation`, and nothing
imports the command line; so this entry hands over to it as a program,
``python -m dataset_builder.cli score ARGS``: same options, help, messages and exit codes
(a domain error is one ``error: ...`` line on stderr and exit code 1).
"""

from __future__ import annotations

import os
import subprocess
import sys


def main() -> None:
    argv = [sys.executable, "-m", "dataset_builder.cli", "score", *sys.argv[1:]]
    if os.name == "posix":
        os.execv(sys.executable, argv)  # this process becomes the command: same pid, streams, exit code
    sys.exit(subprocess.call(argv))


if __name__ == "__main__":  # pragma: no cover
    main()
