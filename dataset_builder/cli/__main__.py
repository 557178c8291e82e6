"""``python -m dataset_builder.cli``: the same commands as the ``dataset-builder`` script."""

import sys

from . import main

sys.exit(main())
