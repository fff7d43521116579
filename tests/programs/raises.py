"""A script that fails (test program for ``python -m altgc compare``)."""

print("before the error")
raise ValueError("this script fails on purpose")
