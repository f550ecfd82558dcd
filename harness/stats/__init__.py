"""Statistics as plain functions over per-seed arrays: the tests and intervals by family (common, floors,
effsize, twosample, paired, equivalence, trend, multiplicity, compare; core re-exports them under the old
flat names), power and seed planning (planning, power), the robustness-map model, and the verdict rules.
Nothing here reads the store or imports torch; importing the package (or verdict) does not import scipy."""
