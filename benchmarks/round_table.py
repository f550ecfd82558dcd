"""The round-2 table: per vote its sub-claim, measure, smallest effect of interest, n, alpha, planned power and
discordant seeds tolerated (claims/power_plan.json), the effect [95% CI], p and verdict at the registered base,
and beside it the verdict and effect at the replication base and whether they agree.

Usage:  python benchmarks/round_table.py results/report.json [results/replication-400/report.json] [--out FILE.md]
"""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bnclaims.harness.report import summary as sm  # noqa: E402


def _fmt(v, digits=3):
    return sm._num(v, digits)


def table(primary: dict, replication: dict | None, plan: dict) -> str:
    from bnclaims.claims import round2
    a = {r["id"]: r for r in primary.get("hypotheses", [])}
    b = {r["id"]: r for r in (replication or {}).get("hypotheses", [])}
    base_b = (replication or {}).get("run", {}).get("seed_base")
    head = ["sub-claim", "vote", "measure", "SESOI", "n", "alpha", "planned power", "discordant tolerated",
            "effect [95% CI]", "p", "verdict"]
    if replication:
        head += [f"at base {base_b}: effect [95% CI]", "verdict", "agrees"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    agree = total = 0
    for sid, votes in round2.VOTES.items():
        for v in votes:
            r, p = a.get(v.id), plan.get(v.id, {})
            if r is None:
                lines.append(f"| {sid} | {v.id} | (not in the report) |" + " |" * (len(head) - 3))
                continue
            h, st = r["hypothesis"], r.get("stats", {})
            ci = st.get("ci") or [None, None]
            n = st.get("n_x") or (st.get("groups") or [{}])[0].get("n")
            ses = _fmt(v.sesoi) if v.sesoi is not None else f"±{_fmt(h.get('margin'))} (TOST)"
            row = [sid, v.id, h.get("title", ""), ses, str(n), _fmt(h.get("alpha"), 2),
                   _fmt(p.get("power"), 2) + (" (underpowered)" if p.get("underpowered") else ""),
                   str(p.get("discordant_tolerated") if p.get("discordant_tolerated") is not None else "-"),
                   f"{_fmt(st.get('effect'))} [{_fmt(ci[0])}, {_fmt(ci[1])}]", sm._p(st.get("p")), r["verdict"]]
            if replication:
                q = b.get(v.id)
                if q is None:
                    row += ["-", "-", "-"]
                else:
                    qs = q.get("stats", {})
                    qci = qs.get("ci") or [None, None]
                    same = q["verdict"] == r["verdict"]
                    total += 1
                    agree += same
                    row += [f"{_fmt(qs.get('effect'))} [{_fmt(qci[0])}, {_fmt(qci[1])}]", q["verdict"],
                            "yes" if same else "**no**"]
            lines.append("| " + " | ".join(row) + " |")
    if replication:
        lines.append(f"\n{agree} of {total} votes give the same verdict at base {base_b}.")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("primary")
    ap.add_argument("replication", nargs="?")
    ap.add_argument("--plan", default=str(ROOT / "claims" / "power_plan.json"))
    ap.add_argument("--out")
    a = ap.parse_args()
    prim = json.loads(Path(a.primary).read_text())
    rep = json.loads(Path(a.replication).read_text()) if a.replication else None
    text = table(prim, rep, json.loads(Path(a.plan).read_text())["plans"])
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
