"""The pytest plugin (entry point bnclaims.harness.plugin.hooks) and the option parsing it shares with the command
line. Imports no torch: claim evidence travels on test reports as JSON."""
