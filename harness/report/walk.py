"""What the report says, in reading order: walk(report) gives its blocks (first screen, claims table, each claim's
section, knock-outs, multiplicity, controls) with what each shows, and the words both renderers print (table cells,
details, map models). markdown.py and html.py only mark these blocks up, so order and selection live here."""
from __future__ import annotations

from bnclaims.harness.declare.evidence import arm_counts, fmt_ci, fmt_num, fmt_seeds
from bnclaims.harness.declare.maps import is_cell, level_label
from bnclaims.harness.report import summary as sm

CHECKS = "Checks (manipulation and identity: they do not vote)"     # the title of a claim's non-evidence records


# ---- the walk ------------------------------------------------------------------------------------

def walk(report: dict) -> list[tuple]:
    """The report's blocks in order, each (kind, *fields). "screen" (the first screen) and "claim" (one claim's
    section) carry their own blocks as their last field. A renderer marks up every block it is given and adds
    nothing; what it cannot show (a figure file it lacks) it leaves out."""
    by_claim: dict = {}
    for r in report["hypotheses"]:
        if not is_cell(r["id"]):            # robustness-map cells show in their map, not as records of their own
            by_claim.setdefault(r["claim"]["id"], []).append(r)
    out = [("head", run_line(report)), ("screen", _first_screen(report)), ("claims", report["claims"])]
    out += [("claim", c, _claim_section(report, c, by_claim.get(c["id"], []))) for c in report["claims"]]
    if report.get("knockouts"):
        out.append(("knockouts", report["knockouts"]))
    mult = report.get("multiplicity") or {}
    if mult.get("ids"):
        out.append(("multiplicity", mult))
    if report.get("controls"):
        out.append(("controls", report["controls"], report.get("null_controls") or {}))
    return out


def _first_screen(report: dict) -> list[tuple]:
    """Banners (pilot, round, selected checks: (tone, title, text)), the claim cards with the designed maps' heat
    maps, the forest plot with what it leaves out, and the index of the claims' figures."""
    out = []
    if report.get("pilot"):
        out.append(("banner", "pilot", "Pilot", report["pilot"]))
    if report.get("round"):
        kind = report["round"]["kind"]
        out.append(("banner", f"round {kind}", kind.capitalize(), report["round"]["text"]))
    note = selection_note(report)
    if note:
        out.append(("banner", "pilot", "Selected checks", note))
    maps = [(c["id"], rm) for c in report["claims"] for rm in c.get("robustness") or []]
    _, left = sm.forest_rows(report)
    figures = [s["id"] for r in report["hypotheses"] if not is_cell(r["id"]) for s in r.get("figures", [])]
    return out + [("cards", sm.claim_cards(report), maps), ("forest", left),
                  ("figure_index", list(dict.fromkeys(figures)))]


def _claim_section(report: dict, c: dict, recs: list[dict]) -> list[tuple]:
    """One claim below its heading and verdict: non-voting evidence, sub-claims, the records (evidence, then the
    checks that do not vote) and their details, what has no evidence or did not run, its maps, its figures."""
    out = []
    if c.get("non_voting"):
        out.append(("non_voting", c["non_voting"]["words"]))
    if c.get("subclaims"):
        out.append(("subclaims", c["subclaims"]))
    ev = [r for r in recs if r["hypothesis"].get("role", "evidence") == "evidence"]
    chk = [r for r in recs if r not in ev]
    out += [("records", title, rows) for title, rows in (("Evidence", ev), (CHECKS, chk)) if rows]
    if recs:
        out.append(("details", recs))
    out += [("missing", m) for m in report.get("missing", []) if m["claim"]["id"] == c["id"]]
    out += [("not_run", n) for n in report.get("not_run", []) if n["claim"] == c["id"]]
    out += [("map", rm) for rm in c.get("robustness") or []]
    figures = [s for r in recs for s in r.get("figures", [])]
    if figures:
        out.append(("figures", figures))
    return out


# ---- the words both renderers print --------------------------------------------------------------

COLUMNS = ("hypothesis", "statement", "stance", "test", "n per arm", "effect [95% CI]", "g or d_z", "p",
           "verdict", "role")


def _verdict_cell(r: dict) -> str:
    v = r["verdict"]
    if v == "not reproduced" and r["hypothesis"].get("expect") == "not reproduced":
        return "not reproduced (expected)"
    if r["hypothesis"].get("expect") == "not reproduced" and v == "reproduced":
        return "reproduced (expected not)"
    return v


def table_row(r: dict) -> list[str]:
    h, st = r["hypothesis"], r["stats"]
    test = st.get("test") or h.get("test")
    direction = st.get("direction") or h.get("direction")
    return [f"{r['id']} {h.get('title', '')}".strip(), h.get("statement", ""), h.get("stance", ""),
            test if direction in (None, test) else f"{test} ({direction})", arm_counts(r),
            f"{fmt_num(st.get('effect'), 3)} {fmt_ci(st.get('ci'), 3)}".replace(" —", ""),
            (f"d_z {fmt_num(st['d_z'], 3)}" if st.get("d_z") is not None else fmt_num(st.get("hedges_g"), 3)),
            fmt_num(st.get("p"), 3), _verdict_cell(r),
            role_cell(h)]


def role_cell(h: dict) -> str:
    """evidence (votes at alpha a) / secondary / exploratory evidence, or a check that does not vote."""
    role = h.get("role", "evidence")
    if h.get("retired"):
        return f"retired, not evidence: {h['retired']}"
    if role != "evidence":
        return f"{role} check (does not vote)"
    if h.get("confirmatory", True):
        return f"evidence, votes at alpha {fmt_num(h.get('alpha'), 3)}"
    return f"evidence, {'secondary' if h.get('group') else 'exploratory'} (alpha {fmt_num(h.get('alpha'), 3)}, no vote)"


def run_line(report: dict) -> str:
    run = report["run"]
    env = run.get("env") or {}
    versions = ", ".join(f"{k} {env[k]}" for k in ("python", "numpy", "scipy", "torch") if env.get(k))
    return (f"profile **{run.get('profile')}**, seed base {run.get('seed_base', 0)}, "
            + (f"data drawn {run['data_draw']}, " if run.get("data_draw", "fixed") != "fixed" else "")
            + f"{len(report['hypotheses'])} hypotheses with evidence"
            + (f", ids {', '.join(run['ids'])}" if run.get("ids") else "")
            + (f"; {versions}" if versions else ""))


def details(r: dict) -> list[tuple[str, str]]:
    """(label, text) pairs explaining one record below the table: metric, measured reason, notes."""
    h, stt = r.get("hypothesis", {}), r.get("stats", {})
    out = [("metric", h.get("metric", "")), ("result", stt.get("reason") or "")]
    seq = stt.get("sequential")
    if seq:
        out.append(("sequential plan", f"two looks, boundaries p {seq.get('boundaries_p')}, "
                                       f"stopped at look {seq.get('stopped_at')}"))
    if h.get("expect") == "not reproduced":
        out.append(("pre-registered expected failure", h.get("expect_reason", "")))
    if h.get("notes"):
        out.append(("notes", h["notes"]))
    nc = r.get("null_control")
    if nc:
        seeds = nc.get("seeds") or {}
        out.append(("null control", f"{nc.get('control')}: {nc.get('verdict')} at alpha {fmt_num(nc.get('alpha'), 3)} "
                                    f"(p {fmt_num(nc.get('p'), 3)}; seeds "
                                    + "; ".join(f"{a} {fmt_seeds(v)}" for a, v in seeds.items()) + ")"))
    for a in r.get("amendments") or []:
        out.append(("amendment", f"{a.get('date')}{' (after data were seen)' if a.get('after_data') else ''}: "
                                 f"{a.get('change')} Reason: {a.get('reason')}"))
    return [(k, v) for k, v in out if v]


def selection_note(report: dict) -> str | None:
    """What the first screen says when the run selected checks by id: its headlines come from them alone."""
    ids = (report.get("run") or {}).get("ids") or []
    if not ids:
        return None
    shown = ", ".join(ids[:12]) + (f" and {len(ids) - 12} more" if len(ids) > 12 else "")
    return (f"This run ran only the checks selected by id ({shown}), so the claim headlines below are built from "
            f"those checks alone, not from the whole suite; a claim whose votes were not selected has no vote here.")


def died(x: dict) -> str:
    if not x["measured"]:
        return "not run"
    return {True: "died", False: "SURVIVED", None: "no verdict"}[x["died"]]


def knockout_source(ko: dict) -> str:
    """Where and when the knock-outs were measured, or the command that measures them here."""
    at = ko.get("measured_at") or {}
    return (f"Measured by {ko['source']} at commit {at.get('commit')}, profile {ko['profile']}, seed base "
            f"{ko['seed_base']}" + ("" if at.get("current", True) else " (the declarations have changed since)") + "."
            if at else f"Not measured at profile {ko['profile']}, seed base {ko['seed_base']}: run "
                       f"`python benchmarks/knockouts.py --seed-base {ko['seed_base']} --profile {ko['profile']}`.")


def cell_label(x: dict) -> str:
    return ", ".join(level_label(f, v) for f, v in x["cell"].items()) or "base (the hypothesis itself)"


def model_lines(rm: dict) -> list[str]:
    """A designed map's amendments, then its model in words: design size, fit, predictions over the grid,
    held-out hits, null cells."""
    out = [f"Amended {a['date']}{' (after data)' if a.get('after_data') else ''}: {a['change']} Why: {a['reason']}"
           for a in rm.get("amendments") or []]
    m = rm.get("model")
    if not m:
        return out
    return out + _model_words(m)


def _model_words(m: dict) -> list[str]:
    if "counts" not in m:
        return [f"Model: not fitted ({m.get('error', 'too few cells')})."]
    fit = m.get("fit") or {}
    pairs = ", ".join(":".join(p) for p in fit.get("pairs") or []) or "none"
    out = [f"Design: {m['design_cells']} designed cells and {m['holdout_cells']} held-out cells of the "
           f"{m['grid_cells']}-cell grid (a strength-2 covering design). Model: main effects and the two-factor "
           f"interactions selected by F test ({pairs}) on the standardized effect d, weighted by each cell's "
           f"precision; fitted on {m['fitted_on']} cells, {fit.get('df')} residual df, overdispersion "
           f"{fmt_num(fit.get('phi'), 3)}.",
           f"Predicted over the whole grid (95% interval beyond zero on the claimed side: holds; on the other: "
           f"fails): holds in {m['counts']['holds']}, fails in {m['counts']['fails']}, unknown in "
           f"{m['counts']['unknown']}. Factors by importance: "
           + ", ".join(f"{x['factor']} ({fmt_num(x['range'], 3)})" for x in m.get("importance") or []) + "."]
    h = m.get("holdout")
    if h:
        out.append(f"Held-out cells: the predicted sign matched the observed one in {h['hits']} of {h['n']} "
                   f"(95% CI {fmt_ci(h['ci'])})." if h.get("n") else "Held-out cells: none with a sign to compare.")
    nc = m.get("null_cells")
    if nc:
        out.append(f"Null cells (A/A, both arms the control arm on disjoint seeds): {nc['reproduced']} of {nc['run']} "
                   f"reproduced (rate {fmt_num(nc['rate'], 3)}, 95% CI {fmt_ci(nc['ci'])}; alpha {fmt_num(nc['alpha'])}).")
    return out
