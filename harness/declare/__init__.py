"""Declarations: what a claim says before anything runs. The vocabulary (Hypothesis, Claim, budgets), the design
(arms, metrics, controls, criteria, registered reductions), the robustness maps, sub-claims, the registry of claim
packs and the pre-registration lock. No torch here: the pytest plugin validates declarations at collection time."""
