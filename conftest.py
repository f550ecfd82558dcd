"""Repository-root conftest. The bnclaims plugin itself comes from the package's pytest11 entry point
(so it loads once, for a checkout and an installed tool alike); pyproject.toml opts this repository's
own test run into collecting the registered claim checks (bnclaims_collect = true)."""
