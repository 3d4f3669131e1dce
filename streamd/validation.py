"""Name the place in a JSON document where validation failed, the way a person reads it.

`hearings[3] (id 'H4').priority` rather than pydantic's `('hearings', 3, 'priority')`:
whoever fixes the file searches for the id, not for the fourth element.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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
