"""The CPU budget: every stratum process on a machine shares its cores like a jobserver.

``budget`` is the machine-wide token pool (file locks); ``demand`` predicts how many cores an
operation keeps busy (from the CPU seconds traces record, and from what the library is known
to do). The engine takes tokens around each costly top-level operation.
"""
