"""`python -m streamd.cli`: the same as the `streamd` command."""

import sys

from streamd.cli import main

sys.exit(main())
