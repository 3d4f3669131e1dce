"""`streamd` command line. Every subcommand reads STREAMD_DATABASE_URL and STREAMD_DATA_DIR.

Exit status: 0 success, 2 bad input or configuration (with a message naming what is wrong).
The command modules import what each command needs when it runs, so building this parser
costs no more than argparse.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from streamd.archive import commands as archive_commands
from streamd.cli.common import DEMO_DATA_DIR, EXIT_BAD_INPUT, CliError
from streamd.cli.queries import (
    cmd_allocate,
    cmd_coverage,
    cmd_policy_evaluate,
    cmd_report_monthly,
    cmd_report_rollup,
)
from streamd.cli.running import cmd_demo, cmd_serve
from streamd.cli.setup import (
    cmd_agent_key,
    cmd_court_load,
    cmd_db_upgrade,
    cmd_import,
    cmd_mqtt_acl,
    cmd_users_create,
    cmd_users_unlock,
)
from streamd.demo import day
from streamd.domain import Role
from streamd.errors import InputError


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
    p.add_argument("--court", help="the court's code (needed once several courts are loaded)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("allocate", help="optimal line plan for an instance file (JSON)")
    p.add_argument("--instance", required=True, help="JSON: {lines: [...], hearings: [...]}")
    p.add_argument("--lines", type=int, help="use K always-available lines L1..LK instead")
    p.add_argument("--what-if", type=int, metavar="N", help="streamed count for 1..N lines")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of reasons")
    p.add_argument("--pretty", action="store_true", help="indent the JSON")
    p.set_defaults(func=cmd_allocate, configured=False)  # a file in, a plan out

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
    p.add_argument("--court", help="the court's code (needed once several courts are loaded)")
    p.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    p.add_argument("--output", "-o", help="file to write (- for standard output)")
    p.set_defaults(func=cmd_report_monthly)
    p = r.add_parser("rollup", help="every court's month ranked (one sheet per court)")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--output", "-o", help="file to write (- for standard output)")
    p.set_defaults(func=cmd_report_rollup)

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
    p.add_argument("--court", help="the court's code (needed once the deployment holds several)")
    p.set_defaults(func=cmd_users_create)
    p = u.add_parser("unlock", help="lift the lockout wrong passwords set on an account")
    p.add_argument("name")
    p.set_defaults(func=cmd_users_unlock)
    archive_commands.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = None
    # A command that reads no configuration (`allocate`) does not load it: a bad
    # STREAMD_* variable is no concern of a file in, an answer out, nor is its start time.
    if getattr(args, "configured", True):
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
