"""Where in a document validation failed, named the way a person reads it.

`hearings[3] (id 'H4').priority` rather than pydantic's `('hearings', 3, 'priority')`:
whoever fixes the file searches for the id, not for the fourth element. Shared by the
server's importers and the agent's room file, so both name a bad field alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError


def locate(data: Any, loc: Sequence[int | str], *, root: str = "") -> str:
    out = root
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "id" in node:
                out += f" (id {node['id']!r})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def describe_validation_error(exc: ValidationError, *, prefix: str = "") -> str:
    """One line per bad setting: its env name and pydantic's reason."""
    lines = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "(settings)"
        env_name = f"{prefix}{name.upper()}" if prefix else name
        if err["type"] == "extra_forbidden":
            lines.append(f"{env_name}: unknown setting")
        else:
            lines.append(f"{env_name}: {err['msg']}")
    return "invalid configuration: " + "; ".join(lines)
