"""What one particular call does: its effect, the object it fits or changes, its output size.

The registry (``interposer.registry``) gives each operation an effect; :func:`effect_of` adjusts
it for this call's arguments (``inplace=True``, ``out=``, ``copy=False``); :func:`fit_target` and
:func:`resolve_target` name the object a fit or a mutation changes. Used by the engine on every
call and by a batch's shared part (``stratum.batch.shared``) to do what a script's call would.
"""
from __future__ import annotations

from interposer import registry
from interposer.registry import FIT, MUTATES, PURE

NO_RECEIVER = _NO = object()  # "no receiver": a function call, not a method; also "no target"


def effect_of(spec, args, kwargs, recv):
    """The effect of this particular call: registry effect adjusted by its arguments."""
    effect, mutated, reason = spec.effect, spec.mutates, None
    if spec.inplace_rule and kwargs.get("inplace") is True:
        # the receiver, or the argument the spec names (``pd.eval(..., target=df)``)
        return MUTATES, spec.mutates or "self", "inplace=True"
    out = kwargs.get("out")
    if out is not None and registry.OPAQUE != effect:
        return MUTATES, "out", "writes into out="
    if spec.estimator_rules and effect in (PURE, FIT) and args and (
            kwargs.get("copy") is False
            or recv is not _NO and getattr(recv, "copy", None) is False):
        # ``StandardScaler(copy=False).transform(X)``, ``normalize(X, copy=False)``: X is
        # changed in place (a fit stays a fit of the receiver, and X is re-keyed)
        return (MUTATES if effect == PURE else effect), 0, "copy=False: changes its input in place"
    return effect, mutated, reason


def fit_target(spec, args, recv):
    """The object a fit-like call leaves fitted: its receiver, or the estimator it is given."""
    if spec.effect != FIT:
        return _NO
    if recv is not _NO:
        return recv
    return args[0] if args else _NO


def also_mutated(spec, args, kwargs, recv) -> list:
    out = []
    for which in spec.also_mutates:
        target = resolve_target(which, args, kwargs, recv)
        if target is not _NO:
            out.append(target)
    return out


def resolve_target(mutated, args, kwargs, recv):
    if mutated == "self":
        return recv
    if isinstance(mutated, int):
        return args[mutated] if len(args) > mutated else _NO
    if mutated == "global_rng":
        return _NO
    value = kwargs.get(mutated, _NO)
    if isinstance(value, tuple) and len(value) == 1:
        return value[0]
    return value


def nbytes(value) -> int:
    """Output size for the trace, cheaply: buffer sizes, never a deep memory count."""
    n = getattr(value, "nbytes", None)
    if isinstance(n, int):
        return n
    mgr = getattr(value, "_mgr", None)  # pandas DataFrame: its blocks' buffers
    blocks = getattr(mgr, "blocks", None)
    if blocks is not None:
        total = 0
        for block in blocks:
            total += getattr(block.values, "nbytes", 0) or 0
        return total
    return 0
