"""Hot loops of cheap operations: past a point, a call site runs its operations untraced.

Why: tracing one operation costs tens of microseconds whatever it computes (keying its
inputs, a cache probe, capturing its output, a trace node, a replay recipe, writing the node at
exit). A loop of cheap array operations (``out[i, j] = block.mean()`` over 2,500 blocks)
computes about 10 µs per operation, so tracing each one made such scripts 5-15x slower cold,
and none of those results was ever worth caching: each is cheaper to recompute than to load.

The rule. A *call site* is one call instruction of the script's code (code object and
instruction offset, so the three operations of ``(b - w) * 2.0 + 1.0`` are three sites). A site
whose last ``fold_after`` top-level operations (``STRATUM_FOLD_AFTER``, default 32) in a row
were neither reused from the cache nor admitted to it, and each returned at most
:data:`FOLD_BYTES`, is *folded*: its later operations run plain, through the same trampoline as
a traced one (so warnings and tracebacks name the script's line), keeping only what soundness
needs:

- nothing is remembered about a result: a traced operation that uses it later keys it by
  content, as any value stratum did not see made, so no key claims a lineage the trace does
  not have;
- whatever the operation changes in place (its registry ``mutates`` target, ``out=``,
  ``inplace=True``, ``copy=False``; for an operation of unknown effect, everything it was
  given) is forgotten together with what shares its memory or owns it (views of the same
  array, the frame behind an indexer), exactly as a traced change whose key is unknown;
- an attribute read of a library object still links the attribute to its owner (``est.coef_``),
  so a later write through it reaches the owner.

Not folded even at a folded site (they take the traced path): anything that draws from or
seeds a random generator (a key would have to describe the draw), data sources and sinks (the
trace lists them for batch planning and replay), fits, an estimator holding a generator object,
calls made inside another operation or inside a memoized user function (whose purity check
must see every operation), a batch's dry run.

A folded site is one node of the trace (``kind`` "folded": its operation, site, how many calls
ran untraced and their seconds). Replay and a batch's shared part re-execute a run only up to
its first folded node: what comes after may derive from folded results nobody recorded.
"""
from __future__ import annotations

import weakref

from interposer.registry import MUTATES, OPAQUE, PURE
from stratum.engine.effects import NO_RECEIVER as _NO
from stratum.engine.effects import also_mutated, effect_of, resolve_target

#: Results larger than this keep a site traced: a later use of a folded result keys it by
#: content, which must stay cheap (hashing 256 KiB: some 20 µs). Sizes, not timings, decide,
#: so that the same script folds the same sites on every run and machine (its traces compare).
FOLD_BYTES = 256 << 10
#: ``kind`` of the trace node standing for a folded site.
FOLDED = "folded"


class Site:
    """A folded call site: how to call its operations as the script's line, and its node."""

    __slots__ = ("call", "node", "count", "getattr", "code", "_last")

    def __init__(self, trampoline, node, is_getattr: bool, code):
        self.call = trampoline
        self.code = code  # the site's code object: the engine's index of sites is by its id
        self.node = node  # stratum.engine.engine.Node, kind FOLDED
        self.count = 0
        self.getattr = is_getattr
        self._last = None  # (lineage generation, weak references to the objects last changed)

    def changed(self, targets, generation: int) -> None:
        """The engine forgot what ``targets`` changed, leaving the lineage at ``generation``."""
        try:
            self._last = (generation, tuple(weakref.ref(t) for t in targets))
        except TypeError:  # an int, a list: no weak reference, no shortcut
            self._last = None

    def repeats(self, targets, generation: int) -> bool:
        """Are ``targets`` the very objects this site changed last, with nothing keyed or
        linked since (the lineage still at ``generation``)? Then forgetting them again changes
        nothing: their keys, their owners' and those of arrays sharing their memory are gone
        already, and no key was made since that a second write could make stale."""
        last = self._last
        if last is None or last[0] != generation or len(last[1]) != len(targets):
            return False
        for ref, target in zip(last[1], targets):
            if ref() is not target:
                return False
        return True

    def settle(self, fold_after: int) -> None:
        """Write the count into the node's reason (once, before the trace is stored)."""
        self.node.reason = (f"ran untraced: {self.count} calls at this site, after "
                            f"{fold_after} in a row with small results that were neither "
                            "reused nor cached (a hot loop)")


def changes(spec, args, kwargs, recv):
    """What a folded run of this call must forget afterwards (a tuple, empty for a pure
    call), or None when the call must take the traced path."""
    if spec.random is not None:
        return None
    effect, mutated, _ = effect_of(spec, args, kwargs, recv)
    if effect == PURE:
        return ()
    if effect == MUTATES:
        if mutated is None or mutated == "global_rng":
            return None
        targets = [resolve_target(mutated, args, kwargs, recv),
                   *also_mutated(spec, args, kwargs, recv)]
        return tuple(t for t in targets if t is not _NO)
    if effect == OPAQUE:  # unknown code: whatever it was given may have changed
        return (*args, *kwargs.values(), *(() if recv is _NO else (recv,)))
    return None
