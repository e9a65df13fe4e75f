"""Operations whose expression reads the caller's variables: ``df.query("a > @t")``,
``df.eval("a * @k + b")``, ``pd.eval("x + y")``.

pandas resolves the names of such an expression in the frame that called it (``@t``, and for
``pd.eval`` every bare name), found by walking a fixed number of frames up its own stack. Two
things follow for stratum:

- **The key.** The names' values are inputs nobody passed: ``threshold = 10`` edited to ``5``
  leaves the call's arguments unchanged. Every identifier in the expression that the caller's
  locals or globals hold is keyed by its value (locals first, as pandas looks them up); one
  that cannot be keyed makes the call run, with the reason. Over-keying (a word inside a
  string literal, a column that shadows a variable) only costs reuse.
- **The call.** Between the caller and pandas sit stratum's frames, so pandas' walk would land
  on stratum's trampoline, whose globals are the script's but whose locals are not: ``@t`` of
  a function's local ``t`` raised ``UndefinedVariableError``. The caller's ``local_dict`` and
  ``global_dict`` are passed explicitly (what pandas would have read), unless the script
  passed its own; ``level=n`` walks ``n`` user frames further up, as pandas would.

Which operations and where their expression is, is registry data (``OpSpec.caller_scope``). A
call with an expression is not replayable without the script (``stratum.engine.recipe``).
"""
from __future__ import annotations

import re

from interposer.frames import is_ours

_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def expression(spec, args, kwargs):
    """The call's expression text, or None."""
    pos, kw = spec.caller_scope
    expr = args[pos] if len(args) > pos else kwargs.get(kw)
    return expr if isinstance(expr, str) else None


def caller(frame, kwargs):
    """The frame pandas would read: the script's frame, ``level`` user frames further up."""
    level = kwargs.get("level", 0)
    if not isinstance(level, int) or level < 0:
        return frame
    for _ in range(level):
        frame = frame.f_back
        while frame is not None and is_ours(frame):
            frame = frame.f_back
        if frame is None:
            return None
    return frame


def inject(spec, args, kwargs, frame) -> dict:
    """The keyword arguments to add when the call runs (the caller's ``local_dict`` and
    ``global_dict``, where the script passed none); {} when there is no expression."""
    if expression(spec, args, kwargs) is None:
        return {}
    frame = caller(frame, kwargs)
    if frame is None:
        return {}
    local, glob = kwargs.get("local_dict"), kwargs.get("global_dict")
    return {"local_dict": frame.f_locals if local is None else local,
            "global_dict": frame.f_globals if glob is None else glob}


def bind(spec, args, kwargs, frame, lineage):
    """(keyword arguments to add when the call runs, key text of the variables the expression
    reads or None, reason the call cannot be reused or None). The added arguments are not
    the script's: they are neither keyed nor part of what the call was given."""
    expr = expression(spec, args, kwargs)
    if expr is None:
        return {}, None, None
    added = inject(spec, args, kwargs, frame)
    if not added:
        return {}, None, "its expression reads variables of a frame stratum cannot find"
    local, glob = added["local_dict"], added["global_dict"]
    parts = []
    name = None
    try:
        for name in sorted(set(_NAME.findall(expr))):
            if isinstance(local, dict) and name in local:
                value = local[name]
            elif isinstance(glob, dict) and name in glob:
                value = glob[name]
            else:
                continue
            parts.append(f"{name}={lineage.key_of(value)}")
    except Exception as exc:  # noqa: BLE001 - Unkeyable, or an odd mapping
        return added, None, f"its expression reads {name!r}, which stratum cannot key ({exc})"
    return added, "scope:" + ";".join(parts), None
