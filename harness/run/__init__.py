"""Running declared checks: run keys and jobs through the store (checks), the runner that turns a Design into
evidence, the run context, the per-seed data draw and the Dask executor."""
