"""Presentation: the claim report (report.json, .md, .html) built from evidence records, its figures and first
screen (summary), compare/merge of saved reports, and the headless-browser check. Imports neither torch nor run/."""
