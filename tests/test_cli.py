"""The commands scripts rely on, run as a user would: real processes, real files."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from streamd.config import load_settings
from streamd.models import AuditEntry
from streamd.store import Database
from streamd.throttle import Policy, Throttled, begin_attempt
from tests.conftest import COURT_DIR, ROOT, SAMPLE_CSV

pytestmark = pytest.mark.slow
STREAMD = [sys.executable, "-m", "streamd.cli"]


def run(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STREAMD, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        input=stdin,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("STREAMD_")}
    return base | {
        "STREAMD_DATA_DIR": str(tmp_path / "data"),
        "STREAMD_COURT_CONFIG_DIR": str(COURT_DIR),
        # argon2 at its lowest cost: users are created and logged in many times here
        "STREAMD_PASSWORD_HASH_TIME_COST": "1",
        "STREAMD_PASSWORD_HASH_MEMORY_KIB": "8",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_setup_commands(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    out = run(env, "court", "load")
    assert out.returncode == 0 and "4 lines" in out.stdout and "6 courtrooms" in out.stdout
    out = run(env, "import", str(SAMPLE_CSV))
    assert out.returncode == 0 and "81 created" in out.stdout
    out = run(env, "import", str(SAMPLE_CSV))
    assert "0 created, 0 updated, 81 unchanged" in out.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(
        SAMPLE_CSV.read_text(encoding="utf-8").replace("2026-12-01 09:", "2026-13-01 09:", 1),
        encoding="utf-8",
    )
    out = run(env, "import", str(bad))
    assert out.returncode == 2 and "nothing written" in out.stderr and ": start:" in out.stderr
    out = run(
        env | {"STREAMD_PASSWORD": "a-long-password"}, "users", "create", "wang", "--role", "clerk"
    )
    assert out.returncode == 0, out.stderr
    out = run(
        env | {"STREAMD_PASSWORD": "a-long-password"}, "users", "create", "wang", "--role", "clerk"
    )
    assert out.returncode == 2 and "already exists" in out.stderr
    out = run(env, "users", "create", "li", "--role", "judge", stdin="")
    assert out.returncode == 2 and "STREAMD_PASSWORD" in out.stderr


def test_agent_key_is_stable_and_per_room(env: dict[str, str]) -> None:
    secret = {"STREAMD_COMMAND_SECRET": "x" * 32}
    one = run(env | secret, "agent-key", "room-01")
    two = run(env | secret, "agent-key", "room-02")
    assert one.returncode == two.returncode == 0
    assert len(one.stdout.strip()) == 64 and one.stdout != two.stdout
    assert run(env | secret, "agent-key", "room-01").stdout == one.stdout
    bad = run(env | secret, "agent-key", "room-99")
    assert bad.returncode == 2 and "no courtroom 'room-99'" in bad.stderr


def test_bad_setting_fails_at_start(env: dict[str, str]) -> None:
    out = run(env | {"STREAMD_PORT": "http"}, "db", "upgrade")
    assert out.returncode == 2
    assert "STREAMD_PORT: Input should be a valid integer" in out.stderr


@pytest.fixture
def server(
    env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], str, dict[str, str]]]:
    assert run(env, "db", "upgrade").returncode == 0
    assert run(env, "court", "load").returncode == 0
    assert run(env, "import", str(SAMPLE_CSV)).returncode == 0
    for name, role in (("clerk1", "clerk"), ("admin1", "admin")):
        out = run(
            env | {"STREAMD_PASSWORD": "a-long-password"}, "users", "create", name, "--role", role
        )
        assert out.returncode == 0, out.stderr
    # The fuzzer acts in every role, so that no route answers it with 403 alone.
    every = [arg for role in ("admin", "clerk", "judge", "department_head", "court_leader",
                              "city_office")
             for arg in ("--role", role)]  # fmt: skip
    out = run(
        env | {"STREAMD_PASSWORD": "a-long-password"},
        "users", "create", "fuzz1", *every, "--department", "civil-1",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [*STREAMD, "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    # A loaded machine (CI runs two test workers on two cores) can take many seconds to
    # start the server: wait for it to answer, or to exit, not for a fixed count of tries.
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield proc, base, env
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()


def _token(base: str, user: str) -> str:
    req = urllib.request.Request(
        f"{base}/api/v1/auth/token",
        method="POST",
        data=json.dumps({"username": user, "password": "a-long-password"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(json.load(resp)["token"])


def test_serve_answers_and_stops_gracefully_on_sigterm(
    server: tuple[subprocess.Popen[str], str, dict[str, str]],
) -> None:
    proc, base, _ = server
    req = urllib.request.Request(
        f"{base}/api/v1/hearings?limit=2",
        headers={"Authorization": f"Bearer {_token(base, 'clerk1')}"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.load(resp)["total"] == 81
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


def test_schemathesis_finds_no_server_error(
    server: tuple[subprocess.Popen[str], str, dict[str, str]], tmp_path: Path
) -> None:
    _, base, env = server
    token = _token(base, "fuzz1")
    st = Path(sys.executable).parent / "schemathesis"
    out = subprocess.run(
        [
            str(st),
            "run",
            f"{base}/api/v1/openapi.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"Authorization: Bearer {token}",
            "--max-examples",
            "25",
            "--phases",
            "examples,coverage,fuzzing,stateful",  # stateful: follows the OpenAPI links
            "--workers",
            "1",
            "--seed",
            "1",
            "--suppress-health-check",
            "all",
            # logout would revoke the fuzzer's own token and leave it testing only 401s
            "--exclude-path",
            "/api/v1/auth/logout",
            # the live feed is an endless event stream, tested in tests/test_orchestrator.py
            "--exclude-path",
            "/api/v1/feed",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=env | {"SCHEMATHESIS_HOOKS": ""},
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "Authentication failed" not in out.stdout  # the run really got past the login
    assert "62 selected / 64 total" in out.stdout, out.stdout[-3000:]
    assert "Stateful" in out.stdout, out.stdout[-3000:]


def test_agent_command_checks_its_config(tmp_path: Path) -> None:
    agent = Path(sys.executable).parent / "streamd-agent"
    out = subprocess.run(
        [str(agent), "--config", str(COURT_DIR / "room-01.toml"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "room-01" in out.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[room]\ncode = "room 1"\nname = ""\n', encoding="utf-8")
    out = subprocess.run(
        [str(agent), "--config", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and "ROOM" not in out.stderr and "code" in out.stderr


def test_users_unlock_lifts_a_login_lockout(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    out = run(
        env | {"STREAMD_PASSWORD": "a-long-password"}, "users", "create", "wang", "--role", "clerk"
    )
    assert out.returncode == 0, out.stderr
    db = Database.from_url(load_settings(environ=env).effective_database_url)
    policy = Policy(free=1, base_seconds=0, lockout=2)
    for _ in range(2):
        db.call(begin_attempt, username="wang", address="203.0.113.9", policy=policy)
    with pytest.raises(Throttled):
        db.call(begin_attempt, username="wang", address="203.0.113.9", policy=policy)
    out = run(env, "users", "unlock", "wang")
    assert out.returncode == 0 and "wang unlocked" in out.stdout, out.stderr
    db.call(begin_attempt, username="wang", address="203.0.113.9", policy=policy)
    with db.session() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "auth.unlock")).one()
        assert entry.actor == "cli" and entry.after == {"was_locked": True}
    db.dispose()
    out = run(env, "users", "unlock", "nobody")
    assert out.returncode == 2 and "no user 'nobody'" in out.stderr
