"""The installed streamd version, as agents report it in their state."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("streamd")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    VERSION = "0+unknown"
