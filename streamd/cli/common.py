"""What every command shares: the bad-input error (exit status 2), reading a JSON file, and
the database and rules a command opens when it runs."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamd.config import Settings
    from streamd.policy import Ruleset
    from streamd.store import Database


log = logging.getLogger("streamd")


EXIT_BAD_INPUT = 2


DEMO_DATA_DIR = "var/demo"


class CliError(Exception):
    """Bad input; the message is printed and the exit status is 2."""


def _read_json(path: Path) -> object:
    """A JSON file, or standard input for `-`."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        return json.loads(text)
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError(f"{path}: not readable JSON ({exc})") from None


def _rules(settings: Settings) -> Ruleset:
    from streamd.policy import PolicyError, load_rules

    try:
        return load_rules(settings.policy_file)
    except PolicyError as exc:
        raise CliError(str(exc)) from None


def _db(settings: Settings) -> Database:
    from streamd.store import Database

    return Database.from_url(settings.effective_database_url)
