"""Import rules `lint-imports` cannot state: no context imports another's private names.

A context is a package of streamd (`streamd.allocation`), a top-level module of it
(`streamd.planning`), the agent (`agents`) or the shared protocol (`streamd_protocol`).
Within one, underscore names are shared freely; across two, only the public ones, so a
context can change its insides alone. The contracts between whole distributions (the
agent, the shared protocol, the server) and allocation's purity are in pyproject.toml's
`[tool.importlinter]`, run by `make lint`.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP = ("agents", "streamd_protocol")  # contexts that are whole distributions of their own


def _context(module: str) -> str:
    parts = module.split(".")
    return parts[0] if parts[0] in TOP else ".".join(parts[:2])


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def crossings(source: str, module: str) -> list[str]:
    """Each import in `source` (of `module`) of another context's private name or module."""
    found: list[str] = []
    here = _context(module)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            target = node.module
            names = [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            target, names = "", [a.name for a in node.names]
        else:
            continue
        for name in names:
            full = f"{target}.{name}" if target else name
            if full.split(".")[0] not in ("streamd", *TOP) or _context(full) == here:
                continue
            if any(_private(part) for part in full.split(".")):
                found.append(f"{module}:{node.lineno} imports {full}")
    return found


def test_no_context_imports_another_contexts_private_names() -> None:
    found = [
        hit
        for package in ("streamd", *TOP)
        for path in sorted((ROOT / package).rglob("*.py"))
        for hit in crossings(path.read_text(encoding="utf-8"), _module_of(path))
    ]
    assert found == []


def test_the_check_sees_a_private_import_across_contexts_and_not_within() -> None:
    across = "from streamd.allocation.solver import _components\nimport streamd.web._x\n"
    assert crossings(across, "streamd.planning") == [
        "streamd.planning:1 imports streamd.allocation.solver._components",
        "streamd.planning:2 imports streamd.web._x",
    ]
    assert crossings(across.splitlines()[0], "streamd.allocation.capacity") == []
    assert crossings("from streamd_protocol.slate import _draw\n", "streamd.monitor.service") != []
    assert (
        crossings("from streamd_protocol.slate import render, __all__\n", "streamd.monitor") == []
    )


def _modules_in(folder: Path) -> set[str]:
    return {
        p.name + "/" if p.is_dir() else p.stem
        for p in folder.iterdir()
        if (p.is_dir() or p.suffix == ".py")
        and p.name not in ("__pycache__", "__init__.py")
        and not p.name.endswith(".egg-info")
    }


def readme_layout(text: str) -> dict[str, set[str]]:
    """The README's layout block: each folder and the modules it names."""
    block = text.split("<!-- layout -->", 1)[1].split("<!-- /layout -->", 1)[0]
    layout: dict[str, set[str]] = {}
    folder = ""
    for line in block.strip().strip("`").strip().splitlines():
        if not line.startswith(" "):
            folder, _, line = line.partition(" ")
            layout[folder] = set()
        layout[folder] |= set(line.split())
    return layout


def test_the_readme_layout_is_the_tree() -> None:
    layout = readme_layout((ROOT / "README.md").read_text(encoding="utf-8"))
    assert "streamd/orchestrator/" in layout
    for folder, names in layout.items():
        assert names == _modules_in(ROOT / folder), folder
    packages = {
        str(p.parent.relative_to(ROOT)) + "/"
        for p in ROOT.glob("streamd/**/__init__.py")
        if "migrations" not in p.parts and "sample" not in p.parts
    }
    assert packages <= set(layout), packages - set(layout)


def test_the_layout_check_sees_a_module_the_readme_does_not_name() -> None:
    text = "<!-- layout -->\n```\nstreamd/policy/  decide rules\n```\n<!-- /layout -->"
    layout = readme_layout(text)
    assert layout == {"streamd/policy/": {"decide", "rules"}}
    assert layout["streamd/policy/"] != _modules_in(ROOT / "streamd/policy")


def _surface(context: str) -> set[str] | None:
    """What a package context offers others: its `__init__`'s `__all__` (names and public
    submodules); None for a context that is one module."""
    init = ROOT.joinpath(*context.split(".")) / "__init__.py"
    if not init.exists():
        return None
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return {ast.literal_eval(e) for e in node.value.elts}  # type: ignore[attr-defined]
    return set()


def reach_ins(source: str, module: str) -> list[str]:
    """Each import in `source` (of `module`) that reaches past another package context's
    `__init__`: into one of its modules, or for a name its `__all__` does not offer."""
    found: list[str] = []
    here = _context(module)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [(node.module, [a.name for a in node.names])]
        elif isinstance(node, ast.Import):
            targets = [(a.name, []) for a in node.names]
        else:
            continue
        for target, names in targets:
            there = _context(target)
            if target.split(".")[0] not in ("streamd", *TOP) or there in (here, "streamd"):
                continue  # `from streamd import audit` names a context, it reaches none
            surface = _surface(there)
            if surface is None:
                continue
            if target != there:
                found.append(f"{module}:{node.lineno} imports from inside {there}: {target}")
                continue
            found += [
                f"{module}:{node.lineno} imports {there}.{name}, not in its __all__"
                for name in names
                if name not in surface
            ]
    return found


def test_every_context_is_reached_through_its_init() -> None:
    found = [
        hit
        for package in ("streamd", *TOP)
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
        for hit in reach_ins(path.read_text(encoding="utf-8"), _module_of(path))
    ]
    assert found == [], "\n".join(found)
