"""`streamd` command line. Every subcommand reads STREAMD_DATABASE_URL and STREAMD_DATA_DIR.

Exit status: 0 success, 2 bad input or configuration (with a message naming what is wrong).
Each command imports what it needs when it runs: `streamd --help` and the pure commands
must not pay for aiohttp, SQLAlchemy, SciPy and the web layer (tests/test_cli.py checks).
"""

from streamd.cli.common import EXIT_BAD_INPUT, CliError
from streamd.cli.parser import build_parser, main

__all__ = ["EXIT_BAD_INPUT", "CliError", "build_parser", "main"]
