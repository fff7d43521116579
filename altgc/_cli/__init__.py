"""The commands of ``python -m altgc``, one module each: :mod:`.demo`,
:mod:`.run`, :mod:`.compare`, :mod:`.bench` and :mod:`.version`.  Each has
``add_parser(subparsers)`` and ``main(args)`` returning the exit status;
:mod:`altgc.__main__` dispatches."""
