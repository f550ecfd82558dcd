"""Robustness maps: re-run a claim over a grid of factors without paying for the full factorial.

A strength-2 covering design picks the cells to run; a weighted linear model of the per-cell effect
(treatment-coded main effects plus two-factor interactions) predicts every grid cell with an interval;
each cell is then classified holds / fails / unknown, and held-out cells check the predicted sign.
A "cell" is a dict {factor name: level} naming a level for every factor.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
from scipy import stats

Factors = Sequence[tuple[str, Sequence[Hashable]]]
_ENUM_LIMIT, _N_CANDIDATES, _N_SAMPLE = 20000, 50, 5000   # exhaustive-search grid size; per-step candidates
                                                         # and stand-in sample on larger grids


def _norm(factors: Factors) -> list[tuple[str, tuple]]:
    """Validated (name, levels) pairs: names unique, levels non-empty and distinct."""
    out, seen = [], set()
    for f, levels in factors:
        levels = tuple(levels)
        if f in seen:
            raise ValueError(f"factor {f!r} is declared twice")
        if not levels or len(set(levels)) != len(levels):
            raise ValueError(f"factor {f!r} needs at least one level and no repeated levels (got {levels!r})")
        seen.add(f)
        out.append((f, levels))
    if not out:
        raise ValueError("no factors given")
    return out


def _encode(cells: Sequence[dict], fs: list[tuple[str, tuple]]) -> np.ndarray:
    """Cells as level-index rows (n, n_factors); rejects unknown or missing factors and unknown levels."""
    index = [{lv: i for i, lv in enumerate(levels)} for _, levels in fs]
    names = [f for f, _ in fs]
    rows = []
    for c in cells:
        if extra := set(c) - set(names):
            raise ValueError(f"cell {c!r} has unknown factor(s) {sorted(map(str, extra))}")
        row = []
        for f, idx in zip(names, index):
            if f not in c:
                raise ValueError(f"cell {c!r} lacks factor {f!r}")
            try:
                row.append(idx[c[f]])
            except (KeyError, TypeError):
                raise ValueError(f"cell {c!r}: unknown level {c[f]!r} of factor {f!r}") from None
        rows.append(row)
    return np.array(rows, dtype=np.int64).reshape(len(rows), len(fs))


def _decode(rows: np.ndarray, fs: list[tuple[str, tuple]]) -> list[dict]:
    return [{f: levels[int(i)] for (f, levels), i in zip(fs, row)} for row in rows]


def _grid_index(sizes: list[int]) -> np.ndarray:
    return np.array(list(itertools.product(*map(range, sizes))), dtype=np.int64).reshape(-1, len(sizes))


def full_grid(factors: Factors) -> list[dict]:
    """Every cell of the full factorial, in itertools.product order."""
    fs = _norm(factors)
    return [dict(zip([f for f, _ in fs], combo)) for combo in itertools.product(*[lv for _, lv in fs])]


def _gain(rows: np.ndarray, pairs: list, uncov: list, single: list) -> np.ndarray:
    """How many still-uncovered level pairs (and single levels) each row would cover."""
    g = sum((u[rows[:, k]] for k, u in enumerate(single)), np.zeros(len(rows), dtype=np.int64))
    for (i, j), u in zip(pairs, uncov):
        g += u[rows[:, i], rows[:, j]]
    return g


def _mark(row: np.ndarray, pairs: list, uncov: list, single: list) -> None:
    for k, u in enumerate(single):
        u[row[k]] = False
    for (i, j), u in zip(pairs, uncov):
        u[row[i], row[j]] = False


def _complete(start: tuple, pidx: dict, uncov: list, sizes: list[int], rng: np.random.Generator) -> np.ndarray:
    """A cell holding one uncovered pair, the other factors filled greedily (random order, random ties)."""
    i, a, j, b = start
    row = np.full(len(sizes), -1, dtype=np.int64)
    row[i], row[j] = a, b
    for f in rng.permutation(len(sizes)):
        if row[f] >= 0:
            continue
        score = np.zeros(sizes[f])
        for h in np.flatnonzero(row >= 0):
            score += uncov[pidx[f, h]][:, row[h]] if f < h else uncov[pidx[h, f]][row[h], :]
        best = np.flatnonzero(score == score.max())
        row[f] = best[rng.integers(len(best))]
    return row


def _candidates(sizes: list[int], rng: np.random.Generator) -> np.ndarray:
    """The whole grid when small, else a seeded random sample of distinct cells."""
    if math.prod(sizes) <= _ENUM_LIMIT:
        return _grid_index(sizes)
    draws = np.stack([rng.integers(s, size=_N_SAMPLE) for s in sizes], axis=1)
    return np.unique(draws, axis=0)


def _spread(cands: np.ndarray, chosen: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k candidate rows added greedily, each maximising the minimum Hamming distance to those chosen so far."""
    prio = rng.permutation(len(cands))
    mind = np.full(len(cands), cands.shape[1] + 1)
    for row in chosen:
        mind = np.minimum(mind, (cands != row).sum(axis=1))
    mind[mind == 0] = -1                                  # already chosen
    if int((mind > 0).sum()) < k:
        raise ValueError(f"only {int((mind > 0).sum())} cells are left to choose from, {k} asked for")
    picked = []
    for _ in range(k):
        best = np.flatnonzero(mind == mind.max())
        p = best[np.argmin(prio[best])]
        picked.append(cands[p])
        mind = np.minimum(mind, (cands != cands[p]).sum(axis=1))
        mind[p] = -1
    return np.array(picked, dtype=np.int64).reshape(k, cands.shape[1])


def covering_design(factors: Factors, base: dict, seed: int = 0, min_cells: int = 0) -> list[dict]:
    """A greedy strength-2 covering array starting at base, padded to min_cells by max-min Hamming spread."""
    fs = _norm(factors)
    sizes = [len(lv) for _, lv in fs]
    rng = np.random.default_rng(seed)
    pairs = list(itertools.combinations(range(len(fs)), 2))
    pidx = {p: n for n, p in enumerate(pairs)}
    uncov = [np.ones((sizes[i], sizes[j]), dtype=bool) for i, j in pairs]
    single = [np.ones(s, dtype=bool) for s in sizes]      # every level at least once (one factor: the grid)
    chosen = [_encode([base], fs)[0]]
    _mark(chosen[0], pairs, uncov, single)
    grid = _grid_index(sizes) if math.prod(sizes) <= _ENUM_LIMIT or len(fs) == 1 else None
    prio = rng.permutation(len(grid)) if grid is not None else None
    while any(u.any() for u in uncov + single):
        if grid is not None:
            g = _gain(grid, pairs, uncov, single)
            best = np.flatnonzero(g == g.max())
            row = grid[best[np.argmin(prio[best])]]
        else:
            todo = [(i, a, j, b) for (i, j), u in zip(pairs, uncov) for a, b in zip(*np.nonzero(u))]
            starts = [todo[t] for t in rng.integers(len(todo), size=_N_CANDIDATES)]
            cands = np.array([_complete(s, pidx, uncov, sizes, rng) for s in starts])
            row = cands[int(np.argmax(_gain(cands, pairs, uncov, single)))]
        chosen.append(row)
        _mark(row, pairs, uncov, single)
    out = np.array(chosen)
    want = min(int(min_cells), math.prod(sizes))
    if want > len(out):
        out = np.vstack([out, _spread(_candidates(sizes, rng), out, want - len(out), rng)])
    return _decode(out, fs)


def covers_all_pairs(cells: Sequence[dict], factors: Factors) -> bool:
    """Whether every pair of levels of every two factors occurs together in some cell (one factor: every level)."""
    fs = _norm(factors)
    rows = _encode(cells, fs)
    if any(len(set(rows[:, k].tolist())) < len(lv) for k, (_, lv) in enumerate(fs)):
        return False
    for i, j in itertools.combinations(range(len(fs)), 2):
        seen = {(int(a), int(b)) for a, b in rows[:, [i, j]]}
        if len(seen) < len(fs[i][1]) * len(fs[j][1]):
            return False
    return True


def holdout_cells(factors: Factors, design: list[dict], k: int, seed: int = 0) -> list[dict]:
    """k grid cells outside the design, spread out by greedy max-min Hamming distance (seeded ties)."""
    fs = _norm(factors)
    rng = np.random.default_rng(seed)
    rows = _spread(_candidates([len(lv) for _, lv in fs], rng), _encode(design, fs), int(k), rng)
    return _decode(rows, fs)


def model_terms(factors: Factors, base: dict, interactions=True) -> list[tuple]:
    """Treatment-coded columns against base: intercept, main effects, then two-factor interactions (all pairs of
    factors when interactions is True, none when False, else only the given (factor, factor) pairs)."""
    fs = _norm(factors)
    _encode([base], fs)
    other = [[lv for lv in levels if lv != base[f]] for f, levels in fs]
    terms: list[tuple] = [("intercept",)]
    terms += [("main", f, lv) for (f, _), lvs in zip(fs, other) for lv in lvs]
    if interactions is not False:
        chosen = None if interactions is True else {frozenset(p) for p in interactions}
        for (i, (f, _)), (j, (g, _)) in itertools.combinations(enumerate(fs), 2):
            if chosen is None or frozenset((f, g)) in chosen:
                terms += [("pair", f, lf, g, lg) for lf in other[i] for lg in other[j]]
    return terms


def _fmt(level: Any) -> str:
    return format(level, "g") if isinstance(level, float) else str(level)


def _name(term: Sequence) -> str:
    """Readable term name: "intercept", "lr=0.316", "depth=8:activation=tanh"."""
    if term[0] == "intercept":
        return "intercept"
    if term[0] == "main":
        return f"{term[1]}={_fmt(term[2])}"
    return f"{term[1]}={_fmt(term[2])}:{term[3]}={_fmt(term[4])}"


def design_matrix(cells: Sequence[dict], terms: Sequence[Sequence]) -> np.ndarray:
    """0/1 indicator matrix, one row per cell and one column per term (intercept column all ones)."""
    cache: dict = {}

    def ind(f: str, level: Any) -> np.ndarray:
        if (f, level) not in cache:
            cache[f, level] = np.fromiter((c[f] == level for c in cells), dtype=float, count=len(cells))
        return cache[f, level]

    X = np.ones((len(cells), len(terms)))
    try:
        for t, term in enumerate(terms):
            if term[0] == "main":
                X[:, t] = ind(term[1], term[2])
            elif term[0] == "pair":
                X[:, t] = ind(term[1], term[2]) * ind(term[3], term[4])
            elif term[0] != "intercept":
                raise ValueError(f"unknown term kind {term[0]!r}")
    except KeyError as e:
        raise ValueError(f"a cell lacks factor {e.args[0]!r}") from None
    return X


def fit(cells: Sequence[dict], y: Sequence[float], se: Sequence[float], factors: Factors, base: dict,
        interactions=True, min_df: int = 2) -> dict:
    """Weighted least squares (weights 1/se^2) with an overdispersion factor phi; JSON-serializable result.

    Estimable main effects are always kept; interactions enter in term order while they raise the rank
    and leave at least min_df residual degrees of freedom. Dropped terms are listed by name.
    """
    fs = _norm(factors)
    y = np.asarray(y, dtype=float)
    se = np.asarray(se, dtype=float)
    if y.ndim != 1 or se.shape != y.shape or len(cells) != len(y):
        raise ValueError(f"cells, y and se must have one entry each (got {len(cells)}, {y.shape}, {se.shape})")
    if len(y) == 0 or not np.all(np.isfinite(y)):
        raise ValueError("y must be finite (found NaN or inf) and non-empty")
    if not np.all(np.isfinite(se)) or np.any(se <= 0):
        raise ValueError("se must be finite and > 0")
    _encode(cells, fs)
    terms = model_terms(fs, base, interactions)
    X, yw, n = design_matrix(cells, terms) / se[:, None], y / se, len(y)
    kept: list[int] = []
    dropped, dropped_main, rank = [], [], 0
    for t, term in enumerate(terms):
        is_pair = term[0] == "pair"
        room = not is_pair or n - rank - 1 >= min_df       # a kept column raises the rank by exactly one
        if room and int(np.linalg.matrix_rank(X[:, kept + [t]])) > rank:
            kept.append(t)
            rank += 1
        else:
            (dropped if is_pair else dropped_main).append(_name(term))
    Xk = X[:, kept]
    q, r = np.linalg.qr(Xk)
    coef, rinv = np.linalg.solve(r, q.T @ yw), np.linalg.inv(r)
    chi2 = float(np.sum((yw - Xk @ coef) ** 2))
    df = n - len(kept)
    phi = max(1.0, chi2 / df) if df > 0 else 1.0
    cov = phi * (rinv @ rinv.T)
    return {
        "terms": [list(terms[t]) for t in kept], "names": [_name(terms[t]) for t in kept],
        "coef": [float(c) for c in coef], "se": [float(s) for s in np.sqrt(np.diag(cov))],
        "cov": cov.tolist(), "df": int(df), "phi": float(phi), "chi2": chi2, "n_cells": int(n),
        "dropped": dropped, "dropped_main": dropped_main,
        "factors": [[f, list(levels)] for f, levels in fs], "base": dict(base),
        "quantile_dist": "t" if df > 0 and phi > 1.0 else "normal",
    }


def select(cells: Sequence[dict], y: Sequence[float], se: Sequence[float], factors: Factors, base: dict,
           alpha: float = 0.05, min_df: int = 2) -> dict:
    """fit() with the main effects and the two-factor interactions the data ask for: forward selection of whole
    factor-pair blocks, each step adding the pair whose F test (the drop in weighted residual chi-square per
    added column, over the new model's residual chi-square per degree of freedom) has the smallest p, while that
    p is below alpha and at least min_df residual degrees of freedom remain. A small design cannot estimate every
    interaction at once; fitting them in a fixed order would spend its degrees of freedom on the first pairs
    listed, whatever the data say. The model records the pairs kept and each step's test."""
    fs = _norm(factors)
    names = [f for f, _ in fs]
    chosen: list[tuple] = []
    model = fit(cells, y, se, fs, base, interactions=False, min_df=min_df)
    steps = []
    while True:
        best = None
        for pair in itertools.combinations(names, 2):
            if pair in chosen:
                continue
            m = fit(cells, y, se, fs, base, interactions=chosen + [pair], min_df=min_df)
            added = len(m["names"]) - len(model["names"])
            if added <= 0 or m["df"] < min_df:
                continue
            f_stat = ((model["chi2"] - m["chi2"]) / added) / max(m["chi2"] / m["df"], 1e-300)
            p = float(stats.f.sf(f_stat, added, m["df"]))
            if best is None or p < best[0]:
                best = (p, pair, m, f_stat, added)
        if best is None or best[0] >= alpha:
            break
        p, pair, model, f_stat, added = best
        chosen.append(pair)
        steps.append({"pair": list(pair), "columns": added, "F": float(f_stat), "p": p, "df": model["df"]})
    model["pairs"] = [list(p) for p in chosen]
    model["selection"] = {"alpha": alpha, "steps": steps,
                          "rule": "forward selection of factor-pair blocks by F test"}
    return model


def predict(model: dict, cells: Sequence[dict], level: float = 0.95) -> list[dict]:
    """Predicted mean per cell with its standard error (phi included) and a two-sided interval at level."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    _encode(cells, _norm(model["factors"]))
    X = design_matrix(cells, model["terms"])
    mean = X @ np.asarray(model["coef"], dtype=float)
    sd = np.sqrt(np.clip(((X @ np.asarray(model["cov"], dtype=float)) * X).sum(axis=1), 0.0, None))
    p = 0.5 + level / 2
    q = stats.t.ppf(p, model["df"]) if model["quantile_dist"] == "t" else stats.norm.ppf(p)
    return [{"cell": dict(c), "mean": float(m), "se": float(s), "lo": float(m - q * s), "hi": float(m + q * s)}
            for c, m, s in zip(cells, mean, sd)]


def classify(pred: dict, direction: str, margin: float = 0.0) -> str:
    """holds: the interval lies wholly beyond the margin on the claimed side; fails: wholly on the other side."""
    lo, hi = pred["lo"], pred["hi"]
    if direction == "greater":
        return "holds" if lo > margin else "fails" if hi < margin else "unknown"
    if direction == "less":
        return "holds" if hi < -margin else "fails" if lo > -margin else "unknown"
    raise ValueError(f"direction must be 'greater' or 'less', got {direction!r}")


def importance(model: dict) -> list[tuple[str, float]]:
    """Factors by the range of their marginal predicted mean over the full grid, largest first."""
    fs = _norm(model["factors"])
    grid = full_grid(fs)
    mean = design_matrix(grid, model["terms"]) @ np.asarray(model["coef"], dtype=float)
    idx = _encode(grid, fs)
    out = []
    for k, (f, levels) in enumerate(fs):
        marg = np.bincount(idx[:, k], weights=mean, minlength=len(levels)) / (len(grid) // len(levels))
        out.append((f, float(marg.max() - marg.min()), k))
    out.sort(key=lambda r: (-r[1], r[2]))
    return [(f, r) for f, r, _ in out]


def surface(model: dict, f1: str, f2: str, level: float = 0.95, direction: str | None = None,
            margin: float = 0.0) -> dict:
    """The f1 x f2 table of predictions with every other factor at its base level."""
    levels = dict(_norm(model["factors"]))
    if f1 not in levels or f2 not in levels or f1 == f2:
        raise ValueError(f"surface needs two different known factors, got {f1!r} and {f2!r}")
    rows, cols = list(levels[f1]), list(levels[f2])
    cells = [{**model["base"], f1: a, f2: b} for a in rows for b in cols]
    preds = predict(model, cells, level)

    def table(get):
        return [[get(preds[i * len(cols) + j]) for j in range(len(cols))] for i in range(len(rows))]

    return {"rows": rows, "cols": cols, "mean": table(lambda p: p["mean"]), "lo": table(lambda p: p["lo"]),
            "hi": table(lambda p: p["hi"]),
            "status": table(lambda p: classify(p, direction, margin)) if direction is not None else None}


def summarize(model: dict, direction: str, margin: float = 0.0, level: float = 0.95) -> dict:
    """Counts of holds / fails / unknown over the full grid."""
    preds = predict(model, full_grid(model["factors"]), level)
    status = [classify(p, direction, margin) for p in preds]
    return {"grid_cells": len(preds), **{s: status.count(s) for s in ("holds", "fails", "unknown")}}


def sign_hit_rate(pred_means: Sequence[float], observed: Sequence[float], alpha: float = 0.05) -> dict:
    """Share of held-out cells whose observed sign matches the predicted one, with a Clopper-Pearson interval."""
    p = np.asarray(pred_means, dtype=float)
    o = np.asarray(observed, dtype=float)
    if p.shape != o.shape or p.ndim != 1:
        raise ValueError(f"pred_means and observed must have the same length (got {p.shape}, {o.shape})")
    use = np.isfinite(p) & np.isfinite(o) & (p != 0) & (o != 0)
    n = int(use.sum())
    hits = int((np.sign(p[use]) == np.sign(o[use])).sum())
    if n == 0:
        return {"n": 0, "hits": 0, "rate": None, "ci": [0.0, 1.0], "skipped": int(len(p))}
    ci = stats.binomtest(hits, n).proportion_ci(confidence_level=1 - alpha, method="exact")
    return {"n": n, "hits": hits, "rate": hits / n, "ci": [float(ci.low), float(ci.high)],
            "skipped": int(len(p) - n)}
