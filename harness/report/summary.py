"""The one-screen summary at the top of report.html and report.md: a card per claim, a forest plot of every
hypothesis, and the figure index; and the fixed colour and marker of each arm name in every figure.

Everything here is computed from a report dict, so `bnclaims report` re-renders old reports the same way.
"""
from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

from bnclaims.harness.stats.verdict import id_key

# ---- one style per arm name, in every figure ---------------------------------------------------------
# Fixed for the arm names the claims use; any other label gets a colour and marker from a hash of its name,
# so a series keeps its style whatever its position in a figure.
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")
_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">", "h", "p")
_BN, _PLAIN = ("#1f77b4", "o"), ("#ff7f0e", "s")
ARM_STYLES = {
    "bn": _BN, "g128": _BN, "bn_only": _BN, "with bn": _BN,
    "none": _PLAIN, "no_bn": _PLAIN, "plain": _PLAIN, "no bn": _PLAIN, "random_subset": _PLAIN,
    "ln": ("#2ca02c", "^"), "gn": ("#d62728", "v"), "wn_mobn": ("#9467bd", "D"), "bn_pop": ("#8c564b", "P"),
    "noisy_bn": ("#e377c2", "X"), "noisy_none": ("#7f7f7f", "*"), "l1": ("#bcbd22", "<"), "l2": ("#17becf", ">"),
    "linf": ("#393b79", "h"), "g32": ("#3182bd", "D"), "g8": ("#08306b", "v"),
}


def arm_style(label) -> tuple[str, str]:
    """(colour, marker) of a series label: the arm's fixed style, else one derived from the label."""
    key = str(label).strip().lower()
    if key in ARM_STYLES:
        return ARM_STYLES[key]
    head = re.split(r"[\s(]", key, maxsplit=1)[0]       # "bn (lr 0.1)": the arm named first
    if head in ARM_STYLES:
        return ARM_STYLES[head]
    h = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    return _PALETTE[h % len(_PALETTE)], _MARKERS[(h // len(_PALETTE)) % len(_MARKERS)]


# Units the claims' axis labels leave implicit, added where a label names the quantity without one.
_UNITS = ((("cross-entropy", "nll", "loss"), "nats"), (("accuracy",), "fraction"), (("step",), "steps"),
          (("learning rate",), "SGD rate"), (("batch size",), "samples"))


def with_unit(label: str) -> str:
    """The axis label with its unit in brackets, if the label names a quantity whose unit is known and gives none."""
    text = str(label or "")
    low = text.lower()
    if not text or "[" in text:
        return text
    for words, unit in _UNITS:
        if any(w in low for w in words):
            return f"{text} [{unit}]"
    return text


# ---- claim cards -----------------------------------------------------------------------------------------
def claim_cards(report: dict) -> list[dict]:
    """Per claim: the headline from its sub-claims (each with its verdict word), the voting verdict and the
    hypotheses that vote each way, which way the non-voting evidence points, where it holds, family-wise alpha."""
    out = []
    for c in report.get("claims", []):
        maps = c.get("robustness") or []
        head = c.get("headline") or {}
        nv = c.get("non_voting") or {}
        out.append({"id": c["id"], "verdict": c["verdict"], "article": c.get("article", True),
                    "headline": head.get("word") or c["verdict"],
                    "subclaims": [{"id": x["id"], "title": x["title"], "verdict": x["verdict"], "kind": x.get("kind"),
                                   "why": x.get("why", "")} for x in c.get("subclaims") or []],
                    "non_voting": nv.get("words"),
                    "text": c.get("text", ""), "for": list(c.get("for") or []), "against": list(c.get("against") or []),
                    "undecided": list(c.get("undecided") or []), "exploratory": len(c.get("exploratory") or []),
                    "fwer": c.get("fwer"),
                    "holds": "; ".join(_map_summary(m) for m in maps if m.get("run")) or None})
    return out


# ---- forest plot -----------------------------------------------------------------------------------------
AGAINST_H1 = ("less", "decreasing")       # H1 says the first arm is lower: flip, so right of 0 is H1's side


def forest_rows(report: dict) -> tuple[list[dict], list[str]]:
    """(rows, left out): each statistical hypothesis (map cells excepted) with a standardized effect (d_z or
    Hedges' g) and its 95% interval scaled by the same factor, oriented so that positive is the direction H1
    states; the ids with no standardized effect are returned apart."""
    from bnclaims.harness.declare.maps import is_cell
    rows, left = [], []
    for r in sorted(report.get("hypotheses", []), key=lambda r: id_key(r["id"])):
        if is_cell(r["id"]):
            continue
        h, st = r.get("hypothesis", {}), r.get("stats", {})
        if h.get("direction") == "deterministic":
            continue
        eff, ci = st.get("effect"), st.get("ci")
        d = st.get("d_z") if st.get("d_z") is not None else st.get("hedges_g")
        approx = False
        if d is None and st.get("test") == "trend" and ci and None not in ci and isinstance(eff, (int, float)):
            # a trend's effect (last group minus first) has no d of its own: divide by the per-seed sd that its
            # 95% interval implies, se * sqrt(n), n seeds per group
            n = min((g.get("n") or 0) for g in st.get("groups") or [{}])
            se = (ci[1] - ci[0]) / (2 * 1.959964)
            if n > 0 and se > 0:            # paired: sd of the per-seed difference; unpaired: the pooled sd
                d, approx = eff / (se * math.sqrt(n if st.get("paired") else n / 2)), True
        finite = all(isinstance(v, (int, float)) and math.isfinite(v) for v in (eff, d, *(ci or [None, None])))
        if not finite or eff == 0:
            left.append(r["id"])
            continue
        scale = d / eff
        sign = -1.0 if h.get("direction") in AGAINST_H1 else 1.0
        lo, hi = sorted((ci[0] * scale * sign, ci[1] * scale * sign))
        rows.append({"id": r["id"], "claim": r["claim"]["id"], "title": h.get("title", ""), "d": d * sign,
                     "lo": lo, "hi": hi, "verdict": r["verdict"], "role": h.get("role", "evidence"),
                     "votes": bool(h.get("confirmatory", True)) and h.get("role", "evidence") == "evidence",
                     "equivalence": h.get("direction") == "equivalent", "approx": approx})
    return rows, left


VERDICT_COLOURS = {"reproduced": "#1a7f37", "not reproduced": "#b42318", "inconclusive": "#9a6700"}
ROLE_MARKERS = {"evidence": "o", "manipulation": "D", "identity": "s"}
FOREST_CAPTION = ("Forest plot: every hypothesis's standardized effect (d_z or Hedges' g) with its 95% interval, "
                  "by claim; right of the dashed line at 0 is the direction the hypothesis states. Colour: verdict "
                  "(green reproduced, red not reproduced, amber inconclusive). Filled circle: evidence that votes; "
                  "open circle: secondary or exploratory evidence; diamond: manipulation check; square: identity "
                  "check. Trend checks (k ordered arms) have no d of their own: theirs is the last-minus-first "
                  "effect over the per-seed sd its interval implies. Equivalence checks (TOST) hold near 0. The "
                  "axis is linear within +-2 and logarithmic beyond.")


def agg_figure(figsize, dpi: int = 90):
    """A matplotlib Figure on the Agg canvas (no pyplot state; Agg unless pyplot is already loaded): every
    figure of the report starts here."""
    import matplotlib
    import sys
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_png(fig, path) -> Path:
    """Lay out and write a figure as a deterministic PNG (no software stamp), creating its folder."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
    return path


def render_forest(report: dict, path) -> Path | None:
    """Draw the forest plot to a deterministic PNG; None when no hypothesis has a standardized effect."""
    rows, _ = forest_rows(report)
    if not rows:
        return None
    claims = []
    for r in rows:
        if r["claim"] not in claims:
            claims.append(r["claim"])
    ys, y, ticks = {}, 0.0, []
    for c in claims:
        for r in (r for r in rows if r["claim"] == c):
            ys[r["id"]] = y
            ticks.append((y, f"{r['id']}  {r['title'][:38]}"))
            y += 1.0
        y += 0.6                                           # a gap between claims
    fig = agg_figure((9.0, 0.9 + 0.17 * y))
    ax = fig.subplots()
    for r in rows:
        colour = VERDICT_COLOURS.get(r["verdict"], "#777777")
        yy = ys[r["id"]]
        ax.plot([r["lo"], r["hi"]], [yy, yy], color=colour, lw=1.6, solid_capstyle="butt")
        ax.plot([r["d"]], [yy], marker=ROLE_MARKERS.get(r["role"], "o"), ms=5, color=colour,
                markerfacecolor=colour if r["votes"] else "white", markeredgewidth=1.2, linestyle="none")
    ax.axvline(0.0, color="#333333", ls="--", lw=1.0)
    ax.set_xscale("symlog", linthresh=2.0)
    ax.set_yticks([t for t, _ in ticks])
    ax.set_yticklabels([s for _, s in ticks], fontsize=6.5)
    ax.set_ylim(y - 0.4, -0.8)
    for c in claims:                                       # claim names at the left of their block
        first = min(ys[r["id"]] for r in rows if r["claim"] == c)
        ax.annotate(c, xy=(1.0, first), xycoords=("axes fraction", "data"), xytext=(4, 0),
                    textcoords="offset points", fontsize=8, fontweight="bold", va="center")
    ax.set_xlabel("standardized effect (d_z or Hedges' g; sign: + = the direction H1 states)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Every hypothesis at a glance", fontsize=10)
    return save_png(fig, path)


def figure_anchor(fid: str) -> str:
    """The HTML id of a figure (report.html's figure index links to it)."""
    return "fig-" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in fid)


# ---- the findings table the README opens with ----------------------------------------------------------
FINDINGS_START = "<!-- findings: generated from results/report.json by harness.report.summary.findings_table; a test checks it -->"
FINDINGS_END = "<!-- /findings -->"


def _num(v, digits=3):
    if not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{digits}g}"


def _p(v):
    if not isinstance(v, (int, float)):
        return "-"
    return f"{v:.1e}" if v < 1e-3 else f"{v:.4f}"


def findings_table(report: dict) -> str:
    """Markdown: per article claim its headline, then each sub-claim with its verdict word and the vote that decided
    it (measure, smallest effect of interest, n, alpha, effect [95% CI], p, vote verdict). Plain words first; the
    numbers after. Computed from a report dict only."""
    recs = {r["id"]: r for r in report.get("hypotheses", [])}
    lines = ["| claim | sub-claim | verdict | vote: what was measured | SESOI | n | alpha | effect [95% CI] | p | vote |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for c in sorted(report.get("claims", []), key=lambda c: id_key(c["id"])):
        subs = c.get("subclaims") or []
        if not subs:
            continue
        head = (c.get("headline") or {}).get("word") if isinstance(c.get("headline"), dict) else c.get("headline")
        first = True
        for s in subs:
            vote = (s.get("vote") or {}).get("ids") or []
            cells = []
            for hid in vote or [None]:
                r = recs.get(hid) if hid else None
                if r is None:
                    why = " ".join(str(s.get("why") or "").split()).replace("|", "/")
                    cells.append((f"no vote{' (side statement)' if s.get('kind') == 'side' else ''}"
                                  + (f": {why}" if why else ""), "-", "-", "-", "-", "-", "-"))
                    continue
                h, st = r.get("hypothesis", {}), r.get("stats", {})
                n = st.get("n_x") or (st.get("groups") or [{}])[0].get("n")
                ses = h.get("sesoi")
                ses = f"±{_num(h.get('margin'))} (TOST)" if ses is None and h.get("margin") is not None else _num(ses)
                ci = st.get("ci") or [None, None]
                cells.append((f"{hid}: {h.get('title', '')}", ses, str(n or "-"), _num(h.get("alpha"), 2),
                               f"{_num(st.get('effect'))} [{_num(ci[0])}, {_num(ci[1])}]", _p(st.get("p")),
                               r.get("verdict", "-")))
            for j, cell in enumerate(cells):
                claim_cell = f"**{c['id']}**: {head}" if first else ""
                sub_cell = f"{s['id']} {s['title']}" if j == 0 else ""
                word = f"**{s['verdict']}**" if j == 0 else ""
                lines.append(f"| {claim_cell} | {sub_cell} | {word} | " + " | ".join(cell) + " |")
                first = False
    return "\n".join(lines)


def readme_findings(readme_text: str) -> str:
    """The findings block of a README (between FINDINGS_START and FINDINGS_END), stripped."""
    a, b = readme_text.index(FINDINGS_START) + len(FINDINGS_START), readme_text.index(FINDINGS_END)
    return readme_text[a:b].strip()


def replication_table(primary: dict, replication: dict) -> tuple[str, dict]:
    """Markdown: per vote of the primary report, its verdict and effect [95% CI] there and in the replication
    (another seed base, same profile and declarations), and whether they agree: the same verdict, and the
    replication's effect inside the primary's interval. Returns (markdown, {"votes", "same_verdict",
    "effect_inside"})."""
    a = {r["id"]: r for r in primary.get("hypotheses", [])}
    b = {r["id"]: r for r in replication.get("hypotheses", [])}
    votes = [r["id"] for r in primary.get("hypotheses", []) if r["hypothesis"].get("confirmatory")
             and r["hypothesis"].get("role", "evidence") == "evidence"]
    votes.sort(key=id_key)
    base_a, base_b = primary.get("run", {}).get("seed_base"), replication.get("run", {}).get("seed_base")
    lines = [f"| vote | verdict at base {base_a} | effect [95% CI] | verdict at base {base_b} | effect [95% CI] | "
             "same verdict | effect inside the first interval |", "|---|---|---|---|---|---|---|"]
    same = inside = 0
    for hid in votes:
        ra, rb = a[hid], b.get(hid)
        sa = ra.get("stats", {})
        ci = sa.get("ci") or [None, None]
        if rb is None:
            lines.append(f"| {hid} | {ra['verdict']} | {_num(sa.get('effect'))} [{_num(ci[0])}, {_num(ci[1])}] | "
                         "not run | - | - | - |")
            continue
        sb = rb.get("stats", {})
        cb = sb.get("ci") or [None, None]
        ok_v = ra["verdict"] == rb["verdict"]
        eb = sb.get("effect")
        ok_e = (isinstance(eb, (int, float)) and None not in ci and ci[0] <= eb <= ci[1])
        same += ok_v
        inside += bool(ok_e)
        lines.append(f"| {hid} | {ra['verdict']} | {_num(sa.get('effect'))} [{_num(ci[0])}, {_num(ci[1])}] | "
                     f"{rb['verdict']} | {_num(eb)} [{_num(cb[0])}, {_num(cb[1])}] | {'yes' if ok_v else 'NO'} | "
                     f"{'yes' if ok_e else 'no'} |")
    return "\n".join(lines), {"votes": len(votes), "same_verdict": same, "effect_inside": inside}


def _map_summary(m: dict) -> str:
    """A map in a few words for its claim's card: the model's grid counts where it has one, else the cells run."""
    model = m.get("model") or {}
    if "counts" not in model:
        return f"{m['hypothesis']} {m['summary']}"
    c, h = model["counts"], model.get("holdout") or {}
    return (f"{m['hypothesis']} predicted to hold in {c['holds']}, fail in {c['fails']}, unknown in {c['unknown']} "
            f"of {c['grid_cells']} cells" + (f" (held-out signs {h['hits']}/{h['n']})" if h.get("n") else ""))


# ---- the heat map of a designed robustness map ----------------------------------------------------------
MAP_STATUS_COLOURS = {"holds": "#1a7f37", "fails": "#cf222e"}      # a run cell's map status; others grey


def map_figure_id(hypothesis: str) -> str:
    return f"map-{hypothesis}"


def map_caption(rm: dict) -> str:
    m = rm["model"]
    f1, f2 = m["surface"]["factors"]
    return (f"{rm['hypothesis']}: the model's predicted standardized effect over {f1} x {f2}, the other factors at "
            f"their base levels (green: the direction the claim states; H holds, F fails, ? unknown, from the 95% "
            f"interval); dots: the cells run at those two levels (filled: the others at base too), coloured by "
            f"their own map status. Over the whole {m['grid_cells']}-cell grid: holds in {m['counts']['holds']}, "
            f"fails in {m['counts']['fails']}, unknown in {m['counts']['unknown']}.")


def render_map_heat(rm: dict, path) -> Path | None:
    """Draw a designed map's heat map (its model's surface over the two most important factors) to a
    deterministic PNG; None where the map has no fitted surface."""
    surf = ((rm.get("model") or {}).get("surface"))
    if not surf:
        return None
    import numpy as np

    f1, f2 = surf["factors"]
    rows, cols = surf["rows"], surf["cols"]
    mean = np.array(surf["mean"], dtype=float)
    z = mean * (-1.0 if rm["model"]["direction"] == "less" else 1.0)     # + : the direction the claim states
    lim = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    fig = agg_figure((1.6 + 0.75 * len(cols), 1.2 + 0.5 * len(rows)))
    ax = fig.subplots()
    im = ax.imshow(z, cmap="PiYG", vmin=-max(lim, 1e-9), vmax=max(lim, 1e-9), aspect="auto")
    mark = {"holds": "H", "fails": "F", "unknown": "?"}
    status = surf.get("status") or [[None] * len(cols) for _ in rows]
    for i in range(len(rows)):
        for j in range(len(cols)):
            ax.text(j, i - 0.18, f"{mark.get(status[i][j], '')} {mean[i, j]:+.2f}", ha="center", va="center",
                    fontsize=7)
    at = {}
    for c in surf.get("run") or []:
        lv = c["levels"]
        if lv.get(f1) in rows and lv.get(f2) in cols:
            at.setdefault((rows.index(lv[f1]), cols.index(lv[f2])), []).append(c)
    for (i, j), cs in sorted(at.items()):
        for k, c in enumerate(cs):
            x = j - 0.3 + 0.6 * (k + 0.5) / len(cs)
            colour = MAP_STATUS_COLOURS.get(c["status"], "#777777")
            ax.plot([x], [i + 0.25], marker="o", ms=4.5, color=colour, linestyle="none",
                    markerfacecolor=colour if c["at_base_elsewhere"] else "white", markeredgewidth=1.0)
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels([str(v) for v in cols], fontsize=7)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([str(v) for v in rows], fontsize=7)
    ax.set_xlabel(f2, fontsize=8)
    ax.set_ylabel(f1, fontsize=8)
    ax.set_title(f"Where {rm['hypothesis']} holds (model)", fontsize=9)
    cb = fig.colorbar(im, ax=ax, fraction=0.05)
    cb.ax.tick_params(labelsize=6)
    cb.set_label("d, + = as claimed", fontsize=7)
    return save_png(fig, path)
