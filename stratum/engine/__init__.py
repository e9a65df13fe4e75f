"""Engine: eager dispatch of each intercepted call: key -> cache lookup -> restore or execute
and admit -> record the node.

``engine`` holds ``Engine`` and the trace ``Node``; ``effects`` says what one particular call does
(pure, fit, mutates which argument); ``restore`` applies a reused result's effects; ``recipe``
records how to redo a top-level call without the script (for replay).
"""
