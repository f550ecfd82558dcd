"""The run context a claim check receives: profile, seed base, run store and report folder.

Built by the pytest plugin from the --claims-* options; plain data, no torch.
"""
from __future__ import annotations

from dataclasses import dataclass

from bnclaims.harness.declare.hypothesis import RUN_PROFILES, Budget, Hypothesis


@dataclass(frozen=True)
class RunContext:
    profile: str = "ci"               # smoke | ci | full | survey (the ci budgets plus every map cell)
    seed_base: int = 0                # seed base b uses seeds b*10000 + i, disjoint across bases
    store: str | None = None          # run store folder (None: the store's own default)
    report_dir: str = "claims-report"  # where report.json/.md/.html are written
    data_dir: str | None = None       # the user's data folder (--data-dir / $BNCLAIMS_DATA; harness.userdata)
    compile: str = "off"              # torch.compile mode of batched-engine runs (--compile)
    data_draw: str = "fixed"          # fixed (every seed: the declared data set) | per-seed (harness.run.datadraw)

    def __post_init__(self):
        if self.profile not in RUN_PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; choose one of {', '.join(RUN_PROFILES)}")
        if isinstance(self.seed_base, bool) or not isinstance(self.seed_base, int):
            raise ValueError(f"seed_base must be an int >= 0, got {self.seed_base!r}")
        if self.seed_base < 0:
            raise ValueError(f"seed_base must be >= 0, got {self.seed_base}")
        if self.store is not None and not isinstance(self.store, str):
            raise ValueError(f"store must be a path string or None, got {self.store!r}")
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise ValueError(f"data_dir must be a path string or None, got {self.data_dir!r}")
        from bnclaims.harness.run.datadraw import MODES
        if self.data_draw not in MODES:
            raise ValueError(f"unknown data draw {self.data_draw!r}; choose one of {', '.join(MODES)}")
        if not isinstance(self.report_dir, str) or not self.report_dir:
            raise ValueError(f"report_dir must be a non-empty path string, got {self.report_dir!r}")

    @property
    def smoke(self) -> bool:
        return self.profile == "smoke"

    @property
    def budget_profile(self) -> str:
        """The budgets a run reads: survey runs at the ci budgets (it adds the robustness-map cells)."""
        return "ci" if self.profile == "survey" else self.profile

    def budget(self, hyp: Hypothesis) -> Budget:
        return hyp.budget(self.budget_profile)

    def seeds(self, hyp: Hypothesis) -> list[int]:
        return hyp.seeds(self.budget_profile, self.seed_base)
