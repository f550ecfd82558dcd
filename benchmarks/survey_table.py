"""The designed maps of a survey report in one table: per map, the design (cells run against the full grid), the
model's fit (residual df, overdispersion, the interactions kept), the held-out sign hit rate, the null cells, and
"holds in / fails in / unknown in" over the full grid (harness.declare.maps.map_model).

Usage:  python benchmarks/survey_table.py results/survey/report.json [--out FILE.md]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _num(v, digits=3):
    return "-" if v is None else f"{v:.{digits}g}"


def table(report: dict) -> str:
    head = ["claim", "map of", "design cells / held-out / grid", "cells with an effect (fitted)", "residual df",
            "overdispersion", "interactions kept", "held-out sign hits [95% CI]", "null cells reproduced",
            "holds in", "fails in", "unknown in", "most important factors"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in report.get("claims", []):
        for rm in c.get("robustness") or []:
            m = rm.get("model")
            if not m:
                continue
            if "counts" not in m:
                lines.append(f"| {c['id']} | {rm['hypothesis']} | {m['design_cells']} / {m['holdout_cells']} / "
                             f"{m['grid_cells']} | {m.get('fitted_on')} | not fitted: {m.get('error')} |"
                             + " |" * (len(head) - 5))
                continue
            fit, h, nc = m.get("fit") or {}, m.get("holdout") or {}, m.get("null_cells") or {}
            pairs = ", ".join(":".join(p) for p in fit.get("pairs") or []) or "none"
            hits = (f"{h['hits']} of {h['n']} [{h['ci'][0]:.2f}, {h['ci'][1]:.2f}]" if h.get("n") else "none")
            nulls = f"{nc['reproduced']} of {nc['run']}" if nc else "none"
            imp = ", ".join(f"{x['factor']} ({x['range']:.2g})" for x in (m.get("importance") or [])[:3])
            lines.append(f"| {c['id']} | {rm['hypothesis']} | {m['design_cells']} / {m['holdout_cells']} / "
                         f"{m['grid_cells']} | {m['fitted_on']} | {fit.get('df')} | {_num(fit.get('phi'))} | {pairs} | "
                         f"{hits} | {nulls} | {m['counts']['holds']} | {m['counts']['fails']} | "
                         f"{m['counts']['unknown']} | {imp} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    text = table(json.loads(Path(a.report).read_text())) + "\n"
    print(text)
    if a.out:
        Path(a.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
