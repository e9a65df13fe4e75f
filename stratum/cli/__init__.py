"""Command line: ``python -m stratum ...``.

``main`` parses the command line and dispatches (a script or module, ``run``, ``replay``,
``trace``, ``cache``, ``doctor``, ``bench``, ``merged``); ``doctor`` checks the installation;
``merged`` shows the merged graph; ``bench`` measures stratum on the user's own scripts.
"""
