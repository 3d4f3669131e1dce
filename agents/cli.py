"""`streamd-agent`: one per courtroom. The runtime (encoders, recording, MQTT) is issue 5;
today the command validates a courtroom config and says plainly that it cannot run yet."""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from streamd.config import describe_validation_error
from streamd.court import RoomSpec

EXIT_BAD_INPUT = 2
EXIT_NOT_AVAILABLE = 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streamd-agent", description=__doc__)
    parser.add_argument("--config", required=True, help="courtroom_configs/<room>.toml")
    args = parser.parse_args(argv)
    path = Path(args.config)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        room = RoomSpec.model_validate(data.get("room"))
    except FileNotFoundError:
        print(f"streamd-agent: {path}: no such file", file=sys.stderr)
        return EXIT_BAD_INPUT
    except tomllib.TOMLDecodeError as exc:
        print(f"streamd-agent: {path}: not valid TOML: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValidationError as exc:
        print(f"streamd-agent: {path}: [room] {describe_validation_error(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(
        f"streamd-agent: config for {room.code} ({room.name}) is valid; "
        "the agent runtime is not built yet, so nothing is started",
        file=sys.stderr,
    )
    return EXIT_NOT_AVAILABLE


if __name__ == "__main__":
    sys.exit(main())
