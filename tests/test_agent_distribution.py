"""The courtroom agent installs alone: a fresh venv with only the shared protocol and the
agent (from this checkout, dependencies from the package index) checks a room file and
holds none of the server's stack. A courtroom PC runs exactly this."""

from __future__ import annotations

import json
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COURT_DIR = ROOT / "streamd" / "sample" / "courtroom_configs"
SERVER_ONLY = {"scipy", "sqlalchemy", "sqlmodel", "psycopg", "openpyxl", "jinja2", "alembic"}

pytestmark = [pytest.mark.slow]


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_the_agent_installs_alone_and_checks_a_room(tmp_path: Path) -> None:
    # Build from copies: a non-editable install writes build/ and egg-info into the tree.
    for dist in ("streamd_protocol", "agents"):
        shutil.copytree(
            ROOT / dist, tmp_path / "src" / dist, ignore=shutil.ignore_patterns("__pycache__")
        )
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    sources = [str(tmp_path / "src" / d) for d in ("streamd_protocol", "agents")]
    done = subprocess.run([*pip, "install", "-q", *sources], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]

    listed = subprocess.run([*pip, "list", "--format", "json"], capture_output=True, text=True)
    names = {p["name"].lower().replace("_", "-") for p in json.loads(listed.stdout)}
    assert {"streamd-agent", "streamd-protocol"} <= names
    assert "streamd" not in names and not names & SERVER_ONLY, sorted(names & SERVER_ONLY)
    print(f"agent venv: {_size(env) / 2**20:.0f} MiB, {len(names)} packages: {sorted(names)}")

    room = subprocess.run(
        [str(env / "bin" / "streamd-agent"), "--config", str(COURT_DIR / "room-01.toml"),
         "--check"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert room.returncode == 0 and "room-01" in room.stdout, room.stderr[-2000:]
    server = subprocess.run(
        [str(python), "-c", "import streamd"], capture_output=True, text=True, cwd=tmp_path
    )
    assert server.returncode != 0 and "ModuleNotFoundError" in server.stderr
