"""Session: stratum switched on in one interpreter, by any of the three ways in.

``startup`` (``STRATUM=1`` through the ``.pth`` hook), ``runner`` (run a script or module as
``__main__``: ``python -m stratum s.py`` and batch workers), ``interactive``
(``stratum.activate()``, ``%load_ext stratum``). ``activation`` installs the interposer, owns the
``Session`` (engine, cache, the run being recorded) and stores the trace at the end; ``explain``
prints the ``--explain`` report.

Keep this file empty of imports: ``STRATUM=1`` start-up imports ``session.startup`` in every
python process.
"""
