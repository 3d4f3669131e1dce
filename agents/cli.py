"""`streamd-agent --config <court config dir>/<room>.toml`: one agent per courtroom."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from agents.agent import Agent
from agents.config import AgentConfigError, load

EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streamd-agent", description=__doc__)
    parser.add_argument(
        "--config",
        required=True,
        help="the room's TOML, e.g. streamd/sample/courtroom_configs/room-01.toml",
    )
    parser.add_argument("--check", action="store_true", help="validate the config and exit")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    try:
        cfg = load(Path(args.config))
    except AgentConfigError as exc:
        print(f"streamd-agent: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.check:
        print(f"streamd-agent: config for {cfg.room.code} ({cfg.room.name}) is valid")
        return 0
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(Agent(cfg).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
