"""A script that switches automatic collection off (test program for
``python -m altgc compare``): the comparison must say so."""

import gc

gc.disable()
junk = []
for i in range(20_000):
    a = [i]
    a.append(a)
print("automatic collection enabled:", gc.isenabled())
