"""Trace and merge: what runs computed, kept and stitched together across runs and scripts.

``store`` is the trace store (SQLite in the cache directory: runs, nodes, sinks); ``mergestore``
folds each run into the merged graph as it is recorded; ``merged`` reads that graph back (which
nodes many runs share, what they cost); ``graphview`` and ``layout`` draw it.
"""
