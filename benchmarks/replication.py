"""Does round 2 replicate? Per vote: the verdict and effect at the registered base and at the replication base.

Usage:  python benchmarks/replication.py results/report.json results/replication-400/report.json [--out FILE.md]
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bnclaims.harness.report import summary as sm  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("primary")
    ap.add_argument("replication")
    ap.add_argument("--out", help="write the table (Markdown) here too")
    a = ap.parse_args()
    table, counts = sm.replication_table(json.loads(Path(a.primary).read_text()),
                                         json.loads(Path(a.replication).read_text()))
    text = (table + f"\n\n{counts['same_verdict']} of {counts['votes']} votes give the same verdict; "
            f"{counts['effect_inside']} of {counts['votes']} replication effects lie inside the first 95% interval.\n")
    print(text)
    if a.out:
        Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
