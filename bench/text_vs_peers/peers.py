#!/usr/bin/python3
"""numpy.loadtxt / numpy.savetxt on the reference file (one thread, as numpy runs them).
Usage: /usr/bin/python3 peers.py read|write <array.npy> <file.tsv> <out.tsv>
Prints "numpy loadtxt|savetxt <wall seconds> <cpu seconds>"."""
import sys
import time

import numpy as np

op, npy, tsv, out = sys.argv[1:5]
a = np.load(npy)
t, c = time.perf_counter(), time.process_time()
if op == "read":
    b = np.loadtxt(tsv, delimiter="\t")
else:
    np.savetxt(out, a, delimiter="\t")  # the default '%.18e'
t, c = time.perf_counter() - t, time.process_time() - c
if op == "read":
    assert b.shape == a.shape
print(f"numpy {'loadtxt' if op == 'read' else 'savetxt'} {t:.4f} {c:.4f}")
