"""Replay: ``python -m stratum replay``, re-executing merged traces without the scripts.

``replay`` turns recorded recipes into a plan (guards, prints, rebinding of data sources);
``executor`` runs a graph of operations on the native thread pool.
"""
