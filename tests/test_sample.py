"""The sample court ships inside the package: a pip-installed streamd loads it, imports its
fortnight and runs the demo from any folder, with nothing of the repository around."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from streamd import sample
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
STREAMD = [sys.executable, "-m", "streamd.cli"]


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMD_")}
    env["STREAMD_DATA_DIR"] = str(cwd / "data")
    return subprocess.run(
        [*STREAMD, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_wheel_carries_the_sample_court_and_schedule(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("streamd-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        f"streamd/sample/{p.relative_to(sample.court_dir().parent).as_posix()}"
        for p in [*sample.court_dir().glob("*.toml"), sample.schedule()]
    }
    assert "streamd/sample/courtroom_configs/court.toml" in shipped
    assert shipped <= names, shipped - names


def test_court_load_and_import_of_the_sample_work_from_an_empty_folder(tmp_path: Path) -> None:
    assert _run(tmp_path, "db", "upgrade").returncode == 0
    out = _run(tmp_path, "court", "load", "--sample")
    assert out.returncode == 0, out.stderr
    assert "4 lines" in out.stdout and "6 courtrooms" in out.stdout
    out = _run(tmp_path, "import", "--sample")
    assert out.returncode == 0 and "81 created" in out.stdout, out.stderr
    # With no court folder configured, `court load` reads the shipped sample as well.
    assert "6 courtrooms" in _run(tmp_path, "court", "load").stdout


def test_sample_flags_refuse_an_explicit_path_too(tmp_path: Path) -> None:
    out = _run(tmp_path, "court", "load", "--sample", str(tmp_path))
    assert out.returncode == 2 and "--sample" in out.stderr
    out = _run(tmp_path, "import", "--sample", str(sample.schedule()))
    assert out.returncode == 2 and "--sample" in out.stderr
    out = _run(tmp_path, "import")
    assert out.returncode == 2 and "--sample" in out.stderr
