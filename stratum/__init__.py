"""stratum: run unmodified pandas / numpy / scikit-learn scripts, trace them, reuse their work.

Three ways in: ``python -m stratum script.py``; ``STRATUM=1 python script.py`` (any command
line, child processes included); and in a long-lived interpreter ``stratum.activate()`` /
``stratum.deactivate()`` or, in IPython / Jupyter, ``%load_ext stratum``.
"""
__version__ = "0.1.0"


def activate():
    """Turn stratum on in this interpreter (a REPL, a notebook, a worker). Returns the session,
    or None when stratum cannot run here (the reason is printed on stderr)."""
    from stratum.session import interactive

    return interactive.activate()


def deactivate() -> None:
    """Turn stratum off in this interpreter and record the session's trace."""
    from stratum.session import interactive

    interactive.deactivate()


def load_ipython_extension(ip) -> None:
    from stratum.session import interactive

    interactive.load_ipython_extension(ip)


def unload_ipython_extension(ip) -> None:
    from stratum.session import interactive

    interactive.unload_ipython_extension(ip)
