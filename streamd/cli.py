"""`streamd` command line. Every subcommand reads STREAMD_DATABASE_URL and STREAMD_DATA_DIR.

Exit status: 0 success, 2 bad input or configuration (with a message naming what is wrong).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from streamd import sample
from streamd.archive import commands as archive_commands
from streamd.demo import day
from streamd.domain import Role
from streamd.errors import InputError

# Each command imports what it needs when it runs: `streamd --help` and the pure commands
# must not pay for aiohttp, SQLAlchemy, SciPy and the web layer (tests/test_cli.py checks).
if TYPE_CHECKING:
    from streamd.config import Settings
    from streamd.policy import Ruleset
    from streamd.store import Database

log = logging.getLogger("streamd")
EXIT_BAD_INPUT = 2
DEMO_DATA_DIR = "var/demo"


class CliError(Exception):
    """Bad input; the message is printed and the exit status is 2."""


def cmd_allocate(settings: Settings, args: argparse.Namespace) -> None:
    """Pure: reads the instance file, prints the optimal plan as JSON; no database."""
    from streamd.allocation import (
        AllocationError,
        InstanceError,
        capacity_curve,
        capacity_document,
        plan_document,
        read_instance,
        solve,
    )

    path = Path(args.instance)
    data = _read_json(path)
    try:
        problem, clock = read_instance(data, lines=args.lines)
        if args.what_if is not None:
            if args.what_if < 1:
                raise InstanceError("--what-if must be at least 1")
            document = capacity_document(capacity_curve(problem.hearings, args.what_if))
        else:
            document = plan_document(solve(problem), clock, lang=args.lang)
    except (InstanceError, AllocationError) as exc:
        raise CliError(f"{path}: {exc}") from None
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2 if args.pretty else None)
    sys.stdout.write("\n")


def _read_json(path: Path) -> object:
    """A JSON file, or standard input for `-`."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        return json.loads(text)
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError(f"{path}: not readable JSON ({exc})") from None


def cmd_policy_evaluate(settings: Settings, args: argparse.Namespace) -> None:
    """Pure: decides every hearing in the file and prints one JSON object per line."""
    from streamd.policy import PolicyError, load_rules
    from streamd.policy import evaluate as evaluation

    path = Path(args.file)
    data = _read_json(path)
    try:
        rules = load_rules(Path(args.rules) if args.rules else settings.policy_file)
        results = evaluation.evaluate(data, rules)
    except (PolicyError, evaluation.EvaluateError) as exc:
        raise CliError(f"{path}: {exc}") from None
    for line in evaluation.lines(results, lang=args.lang):
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")


def cmd_report_monthly(settings: Settings, args: argparse.Namespace) -> None:
    from streamd import reports

    db = _db(settings)
    try:
        month = reports.parse_month(args.month)
        report = db.call(
            reports.monthly,
            month=month,
            department=args.department,
            zone=settings.zone,
            rules=_rules(settings),
        )
    except reports.ReportError as exc:
        raise CliError(str(exc)) from None
    finally:
        db.dispose()
    data = reports.to_xlsx(report) if args.format == "xlsx" else reports.to_csv(report)
    suffix = f"-{args.department}" if args.department else ""
    out = Path(args.output or f"report-{args.month}{suffix}.{args.format}")
    if str(out) == "-":
        sys.stdout.buffer.write(data)
        return
    out.write_bytes(data)
    counts = ", ".join(f"{t.sheet} {len(t.rows)}" for t in report.tables)
    print(f"wrote {out} ({counts})")


def cmd_coverage(settings: Settings, args: argparse.Namespace) -> None:
    """One hearing's coverage as a table (or JSON), or every hearing's as a JSON list."""
    from datetime import UTC

    from streamd.monitor import records, report

    if args.all == (args.hearing is not None):
        raise CliError("give one hearing id, or --all")
    db = _db(settings)
    now = datetime.now(UTC)

    def one(hid: int) -> dict[str, object] | None:
        return db.call(
            records.hearing_coverage,
            hearing_id=hid,
            now=now,
            allowance_seconds=settings.monitor_allowance_seconds,
        )

    try:
        if args.all:
            found = [one(hid) for hid in db.call(records.hearing_ids)]
            print(json.dumps([d for d in found if d is not None], ensure_ascii=False, indent=1))
            return
        data = one(args.hearing)
    finally:
        db.dispose()
    if data is None:
        raise CliError(f"no hearing with id {args.hearing}")
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
    elif args.svg:
        Path(args.svg).write_text(report.timeline_svg(data, settings.zone), encoding="utf-8")
        print(f"wrote {args.svg}")
    else:
        print(report.table(data, settings.zone))


def _rules(settings: Settings) -> Ruleset:
    from streamd.policy import PolicyError, load_rules

    try:
        return load_rules(settings.policy_file)
    except PolicyError as exc:
        raise CliError(str(exc)) from None


def _db(settings: Settings) -> Database:
    from streamd.store import Database

    return Database.from_url(settings.effective_database_url)


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
        structure = court.read_structure(directory)
    except court.CourtConfigError as exc:
        raise CliError(str(exc)) from exc
    summary = _db(settings).call(court.apply_structure, structure=structure, actor="cli")
    print("court loaded: " + ", ".join(f"{v} {k}" for k, v in summary.items()))


def cmd_agent_key(settings: Settings, args: argparse.Namespace) -> None:
    """Print the key a room's agent checks commands with (its STREAMD_AGENT_SECRET), or
    with --mqtt its broker password (STREAMD_AGENT_MQTT_PASSWORD)."""
    from streamd import court
    from streamd.mqtt_acl import mqtt_password
    from streamd.orchestrator import court_secret, rooms_of

    secret = court_secret(settings)
    rooms = rooms_of(court.read_structure(settings.court_config_dir), secret)
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
    structure = court.read_structure(settings.court_config_dir)
    files = generate(structure, secret)
    out = Path(args.out)
    _write_private(out, {"passwd": files.passwd, "acl": files.acl})
    print(f"wrote {out / 'passwd'} and {out / 'acl'}")
    print("mosquitto.conf: allow_anonymous false, password_file and acl_file set to these")
    envs = process_env(structure, secret, broker=args.broker)
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
        )
    except importer.ImportFailed as exc:
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


def serve(settings: Settings, db: Database) -> None:
    from aiohttp import web

    from streamd.web import create_app

    app = create_app(settings=settings, db=db, orchestrate=True)
    # run_app handles SIGINT and SIGTERM: stop accepting, let requests finish, clean up.
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_grace_seconds,
        print=None,
    )


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    log.info("serving on http://%s:%d", settings.host, settings.port)
    serve(settings, _db(settings))


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    """A compressed court day on this machine; see streamd/demo/run.py."""
    import asyncio

    from streamd.demo import run as demo_run
    from streamd.demo import stage

    if not args.speed > 0:
        raise CliError("--speed must be positive")
    options = demo_run.Options(
        data_dir=Path(args.data_dir or DEMO_DATA_DIR),
        sample_dir=sample.court_dir(),  # the demo takes three of its rooms
        speed=args.speed,
        once=args.once,
    )
    try:
        status = asyncio.run(demo_run.run(settings, options))
    except stage.StageError as exc:
        raise CliError(str(exc)) from None
    if status:
        raise SystemExit(status)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamd", description=__doc__)
    parser.add_argument("--data-dir", help="overrides STREAMD_DATA_DIR")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="run a compressed court day: embedded broker, SQLite, agents")
    p.add_argument("--data-dir", default=argparse.SUPPRESS, help=f"default {DEMO_DATA_DIR}")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--speed", type=float, default=day.DEFAULT_SPEED, help="court minutes per real minute"
    )
    p.add_argument("--once", action="store_true", help="exit after the day, with a summary")
    p.set_defaults(func=cmd_demo)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_cmd", required=True)
    p = db.add_parser("upgrade", help="apply migrations")
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(func=cmd_db_upgrade)

    c = sub.add_parser("court", help="court structure").add_subparsers(dest="c_cmd", required=True)
    p = c.add_parser("load", help="load court.toml and courtroom TOMLs")
    p.add_argument("directory", nargs="?")
    p.add_argument("--sample", action="store_true", help="the sample court shipped with streamd")
    p.set_defaults(func=cmd_court_load)

    p = sub.add_parser("agent-key", help="print the command key for a courtroom's agent")
    p.add_argument("room", help="courtroom code, e.g. room-01")
    p.add_argument("--mqtt", action="store_true", help="the room's broker password instead")
    p.set_defaults(func=cmd_agent_key)

    p = sub.add_parser("mqtt-acl", help="write Mosquitto password and ACL files for the court")
    p.add_argument("--out", required=True, help="folder for passwd and acl")
    p.add_argument("--env-dir", help="also write streamd.env and <room>.env here")
    p.add_argument(
        "--broker", default="mqtt://127.0.0.1:1883", help="the broker as the processes reach it"
    )
    p.set_defaults(func=cmd_mqtt_acl)

    p = sub.add_parser("import", help="import hearings from CSV (UTF-8 or GB18030) or JSON")
    p.add_argument("file", nargs="?")
    p.add_argument(
        "--sample", action="store_true", help="the sample fortnight shipped with streamd"
    )
    p.add_argument("--encoding", help="force an encoding instead of detecting it")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("allocate", help="optimal line plan for an instance file (JSON)")
    p.add_argument("--instance", required=True, help="JSON: {lines: [...], hearings: [...]}")
    p.add_argument("--lines", type=int, help="use K always-available lines L1..LK instead")
    p.add_argument("--what-if", type=int, metavar="N", help="streamed count for 1..N lines")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of reasons")
    p.add_argument("--pretty", action="store_true", help="indent the JSON")
    p.set_defaults(func=cmd_allocate)

    pol = sub.add_parser("policy", help="the streaming rules").add_subparsers(
        dest="p_cmd", required=True
    )
    p = pol.add_parser("evaluate", help="decide stream / excluded / needs_approval (JSON lines)")
    p.add_argument("file", help="JSON list of hearings; - reads standard input")
    p.add_argument("--rules", help="rules TOML (default: STREAMD_POLICY_FILE or the shipped rules)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of reasons")
    p.set_defaults(func=cmd_policy_evaluate)

    r = sub.add_parser("report", help="reports").add_subparsers(dest="r_cmd", required=True)
    p = r.add_parser("monthly", help="the monthly report (不直播案件, 直播率, 同比, ...)")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--department", help="one department's code (default: all)")
    p.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    p.add_argument("--output", "-o", help="file to write (- for standard output)")
    p.set_defaults(func=cmd_report_monthly)

    p = sub.add_parser("coverage", help="coverage ledger: 漏播 gaps and 多播 extra per hearing")
    p.add_argument("hearing", nargs="?", type=int, help="a hearing id (prints a table)")
    p.add_argument("--all", action="store_true", help="every hearing, as a JSON list")
    p.add_argument("--json", action="store_true", help="one hearing as JSON")
    p.add_argument("--svg", metavar="FILE", help="write one hearing's timeline picture")
    p.set_defaults(func=cmd_coverage)

    u = sub.add_parser("users", help="user accounts").add_subparsers(dest="u_cmd", required=True)
    p = u.add_parser("create", help="create a user (password from STREAMD_PASSWORD or prompt)")
    p.add_argument("name")
    p.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    p.add_argument("--display-name")
    p.add_argument("--department", help="department code (department heads decide for it)")
    p.set_defaults(func=cmd_users_create)
    p = u.add_parser("unlock", help="lift the lockout wrong passwords set on an account")
    p.add_argument("name")
    p.set_defaults(func=cmd_users_unlock)
    archive_commands.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from streamd.config import ConfigError, load_settings

    overrides = {k: getattr(args, k, None) for k in ("host", "port", "data_dir")}
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        print(f"streamd: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        args.func(settings, args)
    except CliError as exc:
        print(f"streamd: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except InputError as exc:  # the court config, the rules, the archive's arguments
        print(f"streamd: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
