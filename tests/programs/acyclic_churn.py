"""Acyclic churn: many short-lived containers, no cycles (test program for
``python -m altgc compare``).  Prints a checksum that does not depend on the
collector."""

import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
total = 0
keep = []
for i in range(n):
    row = [i, {"k": i}, (i, [i])]
    total += len(row) + row[1]["k"] % 7
    if i % 1000 == 0:
        keep.append(row)
print("rows", n, "checksum", total, "kept", len(keep))
