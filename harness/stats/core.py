"""The old flat module's names (public and private), kept for callers until they import the family
modules: common, floors, effsize, planning, twosample, paired, equivalence, trend, multiplicity, compare.
Nothing is defined here; each name is the family module's own object."""
from __future__ import annotations

from bnclaims.harness.stats.common import (ALTERNATIVES, ARE_RANK, ARE_SIGN, EXACT_LIMIT, MC_RESAMPLES,
                                           PAGE_EXACT_GROUPS, PAGE_EXACT_SEEDS, SIGNFLIP_EXACT_N, TESTS, TRENDS,
                                           InsufficientSeeds, _array, _check_alpha, _check_alternative,
                                           _check_finite, _check_pairing, _clean, _fmt_p, _num, _sd, _u_stat,
                                           _values)
from bnclaims.harness.stats.compare import _one_sided, _summary, _trend_moved, compare, one_sided_p, trend_compare
from bnclaims.harness.stats.effsize import (_STATISTICS, _log_ratio, _mean_diff, _percentile_ci, bca_ci, hedges_g,
                                            prob_superiority)
from bnclaims.harness.stats.equivalence import _margin, tost
from bnclaims.harness.stats.floors import (_LABELS, _PAGE_LABEL, _page_floor, _page_route, _smallest_n,
                                           _trend_count, _trend_floor, check_n, min_attainable_p)
from bnclaims.harness.stats.multiplicity import _obf_two_stage, _pvals, bh, holm, obf_two_stage, sequential_verdict
from bnclaims.harness.stats.paired import _signflip, _wilcoxon
from bnclaims.harness.stats.planning import (_FLOOR_TEST, _ncp_lower, _plan_floor_n, _power_model, _t_power,
                                             effect_lcb, plan_seeds, predicted_power, seeds_needed)
from bnclaims.harness.stats.trend import (_PAGE_METHODS, _groups, _jt_stat, _page, _page_p, _page_stat,
                                          _paired_groups, _spearman, _trend, trend_test)
from bnclaims.harness.stats.twosample import _mannwhitney, _t_p
