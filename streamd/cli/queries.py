"""The commands that decide and print without changing anything: `allocate`, `policy
evaluate`, `report monthly` and `coverage`."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from streamd.cli.common import CliError, _db, _read_json, _rules

if TYPE_CHECKING:
    from streamd.config import Settings


def cmd_allocate(settings: Settings | None, args: argparse.Namespace) -> None:
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
    # A year builds a million objects, none in a cycle worth collecting: the cyclic
    # collector would walk them again and again for nothing. Paused for the solve only,
    # so a caller in the same process (a test, a script) gets its collector back.
    collecting = gc.isenabled()
    gc.disable()
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
    finally:
        if collecting:
            gc.enable()
    # One string, one write: json.dump would hand the stream thousands of small pieces.
    sys.stdout.write(
        json.dumps(document, ensure_ascii=False, indent=2 if args.pretty else None) + "\n"
    )


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
    from streamd.court import court_by_code

    db = _db(settings)
    try:
        month = reports.parse_month(args.month)
        court_id = db.call(court_by_code, code=args.court)
        report = db.call(
            reports.monthly,
            month=month,
            department=args.department,
            zone=settings.zone,
            rules=_rules(settings),
            court_id=court_id,
        )
    except (reports.ReportError, ValueError) as exc:
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


def cmd_report_rollup(settings: Settings, args: argparse.Namespace) -> None:
    from streamd import reports, rollup

    db = _db(settings)
    try:
        month = reports.parse_month(args.month)
        result = db.call(
            rollup.rollup,
            month=month,
            zone=settings.zone,
            rules=_rules(settings),
            allowance_seconds=settings.monitor_allowance_seconds,
        )
    except reports.ReportError as exc:
        raise CliError(str(exc)) from None
    finally:
        db.dispose()
    data = rollup.to_xlsx(result)
    out = Path(args.output or f"rollup-{args.month}.xlsx")
    if str(out) == "-":
        sys.stdout.buffer.write(data)
        return
    out.write_bytes(data)
    print(f"wrote {out} ({len(result.courts)} courts)")


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
