"""`python -m zerolib.study`: see :mod:`zerolib.study.cli`."""

import sys

from zerolib.study.cli import main

sys.exit(main())
