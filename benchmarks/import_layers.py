"""Draw the import structure of harness/ and claims/ as text: which module imports which, grouped by
folder (a "floor"), with the import cycles and the claim modules' line counts. Reads the source with ast;
nothing is imported or run.

    python benchmarks/import_layers.py                 # the modules, grouped by floor
    python benchmarks/import_layers.py --floors        # only the arrows between floors, with counts
    python benchmarks/import_layers.py --json OUT.json # the same graph as data
"""
from __future__ import annotations

import argparse
import ast
import json
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("harness", "claims")
NAMESPACE = "bnclaims."          # the installed import namespace (bnclaims.harness, bnclaims.claims)


def modules() -> dict[str, Path]:
    """Dotted module name (without the namespace) -> file, for every .py under harness/ and claims/."""
    out = {}
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def _resolve(name: str, known: dict) -> str | None:
    """The longest known module a dotted import name falls in."""
    if name.startswith(NAMESPACE):
        name = name[len(NAMESPACE):]
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(mod: str, path: Path, known: dict) -> set[str]:
    """The project modules `mod` imports (module level and inside functions alike)."""
    is_pkg = path.name == "__init__.py"
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                stem = ".".join(anchor + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names = [f"{stem}.{a.name}" for a in node.names] + [stem]
        else:
            continue
        targets = {_resolve(n, known) for n in names}
        if isinstance(node, ast.ImportFrom) and len(targets - {None}) > 1:
            targets.discard(_resolve(names[-1], known))      # "from pkg import mod": the module, not pkg
        found |= {t for t in targets if t and t != mod}
    return found


FLOORS = {"paths": "store", "arrays": "store", "store": "store",
          **{m: "core" for m in ("spec", "data", "nets", "norms", "engine", "datacache")},
          "vgg": "routines", "userdata": "routines", "routines": "routines", "cli": "cli",
          **{m: "aliases" for m in ("design", "hypothesis", "evidence", "checks")}}


def floor(mod: str) -> str:
    """The floor of a module: claims; harness's sub-packages (declare, run, stats, ...) by name; harness's top-level
    modules as the store, the numeric core, routines, the cli and the deprecated aliases of moved modules."""
    parts = mod.split(".")
    if parts[0] != "harness":
        return parts[0]
    if len(parts) == 1:
        return "harness"
    return FLOORS.get(parts[1], parts[1])


def cycles(graph: dict[str, set]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--floors", action="store_true", help="only the arrows between floors")
    ap.add_argument("--json", metavar="OUT", help="write the graph as JSON")
    a = ap.parse_args(argv)
    known = modules()
    graph = {m: imports(m, p, known) for m, p in known.items()}
    if a.json:
        Path(a.json).write_text(json.dumps({m: sorted(v) for m, v in graph.items()}, indent=1))
    by_floor = defaultdict(list)
    for m in sorted(graph):
        by_floor[floor(m)].append(m)
    arrows = defaultdict(int)
    for m, targets in graph.items():
        for t in targets:
            if floor(m) != floor(t):
                arrows[(floor(m), floor(t))] += 1
    if a.floors:
        for f in sorted(by_floor):
            outs = sorted((t, n) for (s, t), n in arrows.items() if s == f)
            print(f"{f} ({len(by_floor[f])} modules) -> " + (", ".join(f"{t} [{n}]" for t, n in outs) or "nothing"))
    else:
        for f in sorted(by_floor):
            print(f"[{f}]")
            for m in by_floor[f]:
                print(f"  {m.split('.')[-1] if m != f.replace('/', '.') else '__init__'} -> "
                      + (", ".join(sorted(graph[m])) or "-"))
    cyc = cycles(graph)
    print(f"\nimport cycles between modules: {len(cyc)}")
    for c in cyc:
        print("  " + " <-> ".join(c))
    floor_graph = defaultdict(set)
    for (s, t) in arrows:
        floor_graph[s].add(t)
    fc = cycles(floor_graph)
    print(f"cycles between floors: {len(fc)}")
    for c in fc:
        print("  " + " <-> ".join(c))
    print("\nclaim modules (lines): " + ", ".join(
        f"{p.stem} {len(p.read_text().splitlines())}" for m, p in sorted(known.items())
        if m.startswith("claims.") and p.name != "__init__.py"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
