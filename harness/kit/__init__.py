"""The one face claim modules import: the declaration vocabulary, the specs, robustness maps (kit.maps), figure
specs and the run helpers, plus the kit's own modules: shared reductions, budget tables, figure and extra builders,
calibration and matched-loss reads. No torch here: the pytest plugin imports claim modules at collection time."""
from __future__ import annotations

from bnclaims.harness.declare import maps
from bnclaims.harness.declare.design import (ERRORS, REDUCTIONS, SEED_OFFSET, TUNE_OFFSET, Arm, Control, Criterion,
                                             Design, Metric, errors, reduction)
from bnclaims.harness.declare.evidence import figure, panels, series
from bnclaims.harness.declare.hypothesis import Budget, Claim, Hypothesis
from bnclaims.harness.declare.subclaims import SubClaim
from bnclaims.harness.declare.validate import validate
from bnclaims.harness.declare.vocabulary import FWER
from bnclaims.harness.kit.budgets import ONE_SEED, budgets
from bnclaims.harness.kit.calibration import calibration, ece, fit_temperature, nll
from bnclaims.harness.kit.designs import each_seed, other_seeds, torch_as_in_runs
from bnclaims.harness.kit.figures import (arm_bands, arm_extra, band_figure, bands_figure, block_band, by_rate_figure,
                                          compared, layer_figure, layer_panels, level_scatter, matched_figure, per_arm,
                                          rate_figure, rate_table, seed_band, seed_bars, spread_series, strided_band,
                                          unit_scatter, value_bars)
from bnclaims.harness.kit.matched import band_steps, in_band, loss_index, read_at_loss
from bnclaims.harness.kit.rates import clopper_pearson, failure_summary
from bnclaims.harness.kit.reductions import (CHANCE, LN10, area, at_budgets, best_rate_index, budget_steps, final,
                                             grid_regret, grid_spread, median_over_probes, moment_steps, probe_median,
                                             spearman_rows, value)
from bnclaims.harness.run.checks import (CHANCE_ACC, CHANCE_LOSS, band, band_series, final_val_error, finite_or,
                                         thin)
from bnclaims.harness.spec import ModelSpec, TrainSpec

__all__ = [
    # declarations
    "Arm", "Budget", "Claim", "Control", "Criterion", "Design", "ERRORS", "FWER", "Hypothesis", "Metric",
    "REDUCTIONS", "SEED_OFFSET", "SubClaim", "TUNE_OFFSET", "each_seed", "errors", "maps", "other_seeds",
    "reduction", "validate",
    # budgets and specs
    "ONE_SEED", "budgets", "ModelSpec", "TrainSpec",
    # reductions and run helpers
    "CHANCE", "CHANCE_ACC", "CHANCE_LOSS", "LN10", "area", "at_budgets", "best_rate_index", "budget_steps", "final",
    "final_val_error", "finite_or", "grid_regret", "grid_spread", "median_over_probes", "moment_steps",
    "probe_median", "spearman_rows", "value",
    "band_steps", "in_band", "loss_index", "read_at_loss", "clopper_pearson", "failure_summary",
    "calibration", "ece", "fit_temperature", "nll", "torch_as_in_runs",
    # figures and extras (a figures(r) or extra(r) builder declares what a hand-written one would compute)
    "arm_bands", "arm_extra", "band", "band_figure", "band_series", "bands_figure", "block_band", "by_rate_figure",
    "compared", "figure", "layer_figure", "layer_panels", "panels", "per_arm", "rate_table", "seed_band",
    "seed_bars", "series", "spread_series", "strided_band", "thin", "unit_scatter", "value_bars",
    "level_scatter", "matched_figure", "rate_figure",
]
