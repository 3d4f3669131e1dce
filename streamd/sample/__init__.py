"""The sample court shipped inside the package, so `streamd demo` and
`streamd court load --sample` work from any folder after `pip install`.

`courtroom_configs/` holds `court.toml` and one TOML per courtroom; `schedules/` a fortnight
of hearings for `streamd import --sample`.
"""

from __future__ import annotations

from pathlib import Path

# The files sit next to this module (package data, see pyproject.toml); installs are plain
# folders (wheel or editable), never zipped, so a Path is enough and tools can open it.
_HERE = Path(__file__).resolve().parent


def court_dir() -> Path:
    """The sample court's configuration folder."""
    return _HERE / "courtroom_configs"


def schedule() -> Path:
    """The sample fortnight of hearings (CSV, the court export's Chinese headers)."""
    return _HERE / "schedules" / "sample-fortnight.csv"
