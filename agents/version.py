"""The installed agent's version, reported in its state and its start event."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("streamd-agent")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    VERSION = "0+unknown"
