"""The commands that set a court up: the schema, the court file, the rooms' keys and the
broker's accounts, the schedule import and the users."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from streamd import sample
from streamd.cli.common import CliError, _db, _rules
from streamd.domain import Role

if TYPE_CHECKING:
    from streamd.config import Settings


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> None:
    from streamd.store import upgrade

    db = _db(settings)
    upgrade(db.engine, args.revision)
    print(f"database at {args.revision}: {settings.effective_database_url.split('@')[-1]}")


def cmd_court_load(settings: Settings, args: argparse.Namespace) -> None:
    from streamd import court

    if args.sample and args.directory:
        raise CliError("give a directory or --sample, not both")
    directory = (
        sample.court_dir() if args.sample else Path(args.directory or settings.court_config_dir)
    )
    try:
        courts = court.read_courts(directory)
    except court.CourtConfigError as exc:
        raise CliError(str(exc)) from exc
    db = _db(settings)
    for structure in courts:  # each court in its own transaction, in the folder's order
        summary = db.call(court.apply_structure, structure=structure, actor="cli")
        counts = ", ".join(f"{v} {k}" for k, v in summary.items())
        print(f"court loaded: {structure.court.code} {structure.court.name}: {counts}")


def cmd_agent_key(settings: Settings, args: argparse.Namespace) -> None:
    """Print the key a room's agent checks commands with (its STREAMD_AGENT_SECRET), or
    with --mqtt its broker password (STREAMD_AGENT_MQTT_PASSWORD)."""
    from streamd import court
    from streamd.mqtt_acl import mqtt_password
    from streamd.orchestrator import court_secret, rooms_of

    secret = court_secret(settings)
    rooms = rooms_of(court.read_courts(settings.court_config_dir), secret)
    if args.room not in rooms:
        known = ", ".join(sorted(rooms)) or "none"
        raise CliError(f"no courtroom {args.room!r} in {settings.court_config_dir} ({known})")
    print(mqtt_password(secret, args.room) if args.mqtt else rooms[args.room].key)


def cmd_mqtt_acl(settings: Settings, args: argparse.Namespace) -> None:
    """Write Mosquitto's password and ACL files: each agent only under its own room.

    With --env-dir, also the environment files a deployment hands to each process: streamd's
    (its broker login and the court secret) and one per room (that room's command key and
    broker password only), all 0600.
    """
    from streamd import court
    from streamd.mqtt_acl import generate, process_env

    secret = court_secret_of(settings)
    courts = court.read_courts(settings.court_config_dir)
    files = generate(courts, secret)
    out = Path(args.out)
    _write_private(out, {"passwd": files.passwd, "acl": files.acl})
    print(f"wrote {out / 'passwd'} and {out / 'acl'}")
    print("mosquitto.conf: allow_anonymous false, password_file and acl_file set to these")
    envs = process_env(courts, secret, broker=args.broker)
    if args.env_dir:
        _write_private(Path(args.env_dir), {f"{name}.env": text for name, text in envs.items()})
        print(f"wrote {', '.join(f'{name}.env' for name in envs)} in {args.env_dir}")
    else:
        print(envs["streamd"].splitlines()[0])
        print("agents: STREAMD_AGENT_MQTT_PASSWORD from `streamd agent-key ROOM --mqtt`")


def court_secret_of(settings: Settings) -> str:
    from streamd.orchestrator import court_secret

    return court_secret(settings)


def _write_private(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)


def cmd_import(settings: Settings, args: argparse.Namespace) -> None:
    from streamd import importer, planning

    if args.sample == (args.file is not None):
        raise CliError("give a file to import, or --sample")
    path = sample.schedule() if args.sample else Path(args.file)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    try:
        result = importer.import_file(
            db=_db(settings),
            path=path,
            zone=settings.zone,
            actor="cli",
            encoding=args.encoding,
            progress=sys.stderr.isatty(),
            rules=_rules(settings),
            timing=planning.Timing.of(settings),
            court=args.court,
        )
    except (importer.ImportFailed, ValueError) as exc:
        raise CliError(str(exc)) from exc
    print(
        f"imported {path}: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged"
    )


def cmd_users_create(settings: Settings, args: argparse.Namespace) -> None:
    from streamd.auth import UserExistsError, create_user, hasher_for

    password = os.environ.get("STREAMD_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise CliError("set STREAMD_PASSWORD or run in a terminal to be prompted")
        password = getpass.getpass(f"password for {args.name}: ")
        if password != getpass.getpass("again: "):
            raise CliError("the passwords differ")
    try:
        user = _db(settings).call(
            create_user,
            username=args.name,
            password=password,
            roles=[Role(r) for r in args.role],
            display_name=args.display_name or args.name,
            department=args.department,
            court=args.court,
            password_hasher=hasher_for(settings),
        )
    except (UserExistsError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    print(f"user {user.username} created with roles {', '.join(user.roles)}")


def cmd_users_unlock(settings: Settings, args: argparse.Namespace) -> None:
    """Lift a lockout login throttling set (from every address), audited as the API's."""
    from sqlmodel import Session, select

    from streamd import audit, throttle
    from streamd.models import User

    def work(session: Session) -> bool | None:
        user = session.exec(select(User).where(User.username == args.name)).first()
        if user is None:
            return None
        was_locked = throttle.unlock(session=session, username=user.username)
        audit.record(
            session=session,
            actor="cli",
            action="auth.unlock",
            obj=user,
            after={"was_locked": was_locked},
        )
        return was_locked

    was_locked = _db(settings).call(work)
    if was_locked is None:
        raise CliError(f"no user {args.name!r}")
    print(f"user {args.name} " + ("unlocked" if was_locked else "was not locked; delays lifted"))
