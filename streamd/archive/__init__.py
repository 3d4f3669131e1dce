"""The central recording archive: shipping target, backup copy, fixity audit, record export.

Its modules are its surface, each imported only by who needs it: `commands` is on the
CLI's start path, which must not pay for the ledger and the orchestrator's records.
"""

__all__ = [
    "commands",
    "files",
    "ledger",
    "metrics",
    "service",
]
