"""The report's figure files: each evidence figure spec drawn with matplotlib (cached by spec beside the run
store), then the first screen's forest plot and the designed maps' heat maps (drawn by summary). matplotlib is
imported only when something is drawn."""
from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import re
import shutil
from pathlib import Path

from bnclaims.harness.report.summary import (ARM_STYLES, agg_figure, arm_style, map_figure_id, render_forest,
                                             render_map_heat, save_png, with_unit)

FOREST_ID, FOREST_FILE = "summary-forest", "summary-forest.png"     # the summary's forest plot (harness.report.summary)


def _figure_specs(report: dict) -> list[tuple[str, dict]]:
    return [(r["id"], spec) for r in report["hypotheses"] for spec in r.get("figures", [])]


def figure_files(report: dict) -> dict[str, str]:
    """Figure id -> file name (ids sanitized; repeated ids get _2, _3 ...)."""
    files, used = {}, set()
    for _, spec in _figure_specs(report):
        if spec["id"] in files:
            continue
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", spec["id"]) or "figure"
        name, k = f"{base}.png", 2
        while name in used:
            name, k = f"{base}_{k}.png", k + 1
        used.add(name)
        files[spec["id"]] = name
    return files


def _floats(v):
    return [math.nan if a is None else float(a) for a in v]


def _draw(ax, spec: dict) -> None:
    kind = spec.get("kind", "lines")
    ser = spec.get("series", [])
    if kind == "bar":
        cats = []
        for s in ser:
            cats += [c for c in s["x"] if c not in cats]
        width = 0.8 / max(len(ser), 1)
        for k, s in enumerate(ser):
            pos = [cats.index(c) - 0.4 + width * (k + 0.5) for c in s["x"]]
            y = _floats(s["y"])
            yerr = None
            if s.get("lo") is not None and s.get("hi") is not None:
                yerr = [[max(a - b, 0.0) for a, b in zip(y, _floats(s["lo"]))],
                        [max(b - a, 0.0) for a, b in zip(y, _floats(s["hi"]))]]
            ax.bar(pos, y, width, yerr=yerr, label=s["label"], capsize=2, color=arm_style(s["label"])[0])
        ax.set_xticks(range(len(cats)))
        ax.set_xticklabels([str(c) for c in cats])
    else:
        for s in ser:
            x, y = _floats(s["x"]), _floats(s["y"])
            colour, marker = arm_style(s["label"])
            if kind == "scatter":
                ax.scatter(x, y, s=14, label=s["label"], color=colour, marker=marker)
            else:
                (line,) = ax.plot(x, y, label=s["label"], color=colour, marker=marker, ms=3,
                                  markevery=None if len(x) <= 12 else max(len(x) // 8, 1))
                if s.get("lo") is not None and s.get("hi") is not None:
                    ax.fill_between(x, _floats(s["lo"]), _floats(s["hi"]), color=line.get_color(),
                                    alpha=0.2, linewidth=0)
    if spec.get("logy"):
        ax.set_yscale("log")
    ax.set_title(spec.get("title", ""), fontsize=10)
    ax.set_xlabel(with_unit(spec.get("xlabel", "")))
    ax.set_ylabel(with_unit(spec.get("ylabel", "")))
    if any(s.get("label") for s in ser):
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def render_figure(spec: dict, path) -> Path:
    """Render one figure spec (single axes, or "panels" side by side) to a deterministic PNG."""
    specs = spec["panels"] if "panels" in spec else [spec]
    fig = agg_figure((4.6 * len(specs), 3.4), dpi=100)
    axes = fig.subplots(1, len(specs), squeeze=False)[0]
    for ax, s in zip(axes, specs):
        _draw(ax, s)
    if "panels" in spec and spec.get("title"):
        fig.suptitle(spec["title"], fontsize=11)
    return save_png(fig, path)


def _figure_cache() -> Path | None:
    """Rendered PNGs keyed by their spec, beside the run store: a warm run re-renders nothing."""
    from bnclaims.harness.paths import store_dir
    return store_dir() / "figures"


def render_figures(report: dict, figdir) -> dict[str, str]:
    """Render every figure of the report into figdir: the evidence's figure specs, then the forest plot and each
    designed map's heat map where there is one to draw; figure id -> file name."""
    import matplotlib
    files = figure_files(report)
    if files:
        Path(figdir).mkdir(parents=True, exist_ok=True)
    cache = _figure_cache()
    done = set()
    for _, spec in _figure_specs(report):
        if spec["id"] in done:
            continue
        done.add(spec["id"])
        target = Path(figdir) / files[spec["id"]]
        blob = (json.dumps(spec, sort_keys=True) + matplotlib.__version__ + inspect.getsource(_draw)
                + json.dumps(ARM_STYLES, sort_keys=True) + inspect.getsource(with_unit))
        cached = cache / f"{hashlib.sha256(blob.encode()).hexdigest()[:24]}.png" if cache else None
        if cached is not None and cached.exists():
            shutil.copyfile(cached, target)
            continue
        render_figure(spec, target)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(target, tmp)
            os.replace(tmp, cached)
    if render_forest(report, Path(figdir) / FOREST_FILE) is not None:
        files[FOREST_ID] = FOREST_FILE
    for c in report["claims"]:          # designed maps: the model's heat map (first screen and the claim's section)
        for rm in c.get("robustness") or []:
            fid = map_figure_id(rm["hypothesis"])
            if render_map_heat(rm, Path(figdir) / f"{fid}.png") is not None:
                files[fid] = f"{fid}.png"
    return files
