"""Batch: ``python -m stratum run s1.py s2.py ...``, many scripts as one job.

``job`` is the command (progress, summary, ``--out``); ``plan`` predicts each script's nodes from
the merged graph; ``dryrun`` predicts never-seen scripts on a data sample; ``warm`` is the warm
parent that forks ``worker`` processes; ``shared`` computes the nodes several scripts share once,
on the executor; ``folders`` names result folders; ``stdio`` points a worker's std streams at
files.
"""
