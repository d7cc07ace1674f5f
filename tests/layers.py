"""How perform's packages import each other: ``python -m tests.layers`` (or ``make layers``).

Prints each package's imports of other packages, lowest layer first, and every import that runs
back up the layers or reaches a private name across packages; exits 1 when there is one.
``tests/test_layers.py`` runs the same check.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "perform"

# Lowest first. A module may import from its own layer's other members only where it is listed
# in PEERS; command modules (each package's cli.py) belong to the top layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "quiet", "version", "resources"),
    ("schema", "control"),
    ("mapping", "pipeline"),
    ("share",),
    ("capture", "audio"),
    ("vision", "style"),
    ("events",),
    ("osc", "midi", "render", "offline"),
    ("panel",),
    ("show",),
    ("console", "devices"),
    ("runtime", "check"),
    ("soak", "bench", "commands"),
    ("cli",),
    ("__main__",),
)
PEERS = {("style", "vision")}
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


@dataclass(frozen=True)
class Import:
    module: str  # the importing file, relative to the repository
    line: int
    source: str  # the importing unit: a package or top-level module
    target: str
    name: str


def unit_of(path: Path) -> str:
    """The package (or top-level module) a file belongs to; package command modules are 'commands'."""
    rel = path.relative_to(ROOT)
    if len(rel.parts) == 1:
        return "version" if rel.stem == "__init__" else rel.stem
    if rel.name == "cli.py":
        return "commands"
    return rel.parts[0]


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    base = parts[: len(parts) - node.level]
    return ".".join(base + ([node.module] if node.module else []))


def imports() -> list[Import]:
    """Every import of one perform unit by another, at module level or inside a function."""
    found: list[Import] = []
    for path in sorted(ROOT.rglob("*.py")):
        source = unit_of(path)
        rel = str(path.relative_to(ROOT.parent))
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            if isinstance(node, ast.ImportFrom):
                module = _absolute(path, node)
                targets = [(module, a.name) for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [(a.name, "") for a in node.names]
            else:
                continue
            for module, name in targets:
                parts = module.split(".")
                if parts[0] != "perform":
                    continue
                if len(parts) == 1:  # from perform import x
                    target = "version" if name.startswith("__") else name
                    name = "" if name.startswith("__") else name
                else:
                    target = "version" if parts[1] == "__init__" else parts[1]
                if target == "cli" and len(parts) > 2:
                    target = "commands"
                if target != source:
                    found.append(Import(rel, node.lineno, source, target, name))
    return found


def problems(found: list[Import]) -> list[str]:
    """Imports that run back up the layers, reach a private name, or name an unknown unit."""
    out: list[str] = []
    for i in found:
        where = f"{i.module}:{i.line}"
        if i.source not in RANK or i.target not in RANK:
            unknown = i.source if i.source not in RANK else i.target
            out.append(f"{where}: '{unknown}' is in no layer (add it to tests/layers.py LAYERS)")
            continue
        upward = RANK[i.target] > RANK[i.source]
        same = RANK[i.target] == RANK[i.source] and (i.source, i.target) not in PEERS
        if upward or same:
            which = "a higher" if upward else "the same"
            out.append(f"{where}: {i.source} imports {i.target} ({which} layer)")
        if i.name.startswith("_") and not i.module.startswith(f"perform/{i.target}/"):
            out.append(f"{where}: {i.source} imports the private name {i.target}.{i.name}")
    return list(dict.fromkeys(out))


def report(found: list[Import]) -> str:
    edges: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for i in found:
        edges[i.source][i.target] += 1
    lines = []
    for n, layer in enumerate(LAYERS):
        lines.append(f"layer {n}")
        for unit in layer:
            uses = ", ".join(f"{t}" for t in sorted(edges.get(unit, {}), key=lambda t: (RANK.get(t, 99), t)))
            lines.append(f"  {unit:<10} -> {uses or '-'}")
    return "\n".join(lines)


def main() -> int:
    found = imports()
    print(report(found))
    bad = problems(found)
    for line in bad:
        print(line)
    print(f"{len(bad)} problem(s)" if bad else "no import runs back up the layers")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
