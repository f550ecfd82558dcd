"""Statistics as plain functions over per-seed arrays: the tests and intervals (core), power and seed planning,
the robustness-map model, and the verdict rules. Nothing here reads the store or imports torch."""
