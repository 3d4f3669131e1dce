"""The one base class for bad input that every command-line entry point reports as exit 2.

Light on purpose: the CLI catches it without importing the modules that raise it (the
court config, the rules, the archive), so `streamd --help` loads none of them.
"""

from __future__ import annotations


class InputError(ValueError):
    """Input that cannot be used; the message names what is wrong and where."""
