"""Eager dispatch of intercepted operations: key -> lookup -> (restore | execute, admit) -> record.

Every operation the interposer sees arrives at ``Engine.call``. Its key is described in docs/reuse.md;
an operation is reused only when the registry says it is pure / a source / a fit and every
input could be keyed soundly (randomness seeded, no opaque arguments). Anything else is
executed as is and still recorded, with the reason it could not be reused.
"""
from __future__ import annotations

__tracebackhide__ = True  # pytest: these frames are stratum's (interposer.tbfilter)

import os
import sys
import threading
import time
import types
from dataclasses import dataclass

import numpy as np

from interposer import channels, registry
from interposer.frames import (call_site, end_capture, filters_state, replay_warnings,
                               site_relative, start_capture, trampoline)
from interposer.registry import FIT, MUTATES, OPAQUE, PURE, RANDOM, SINK, SOURCE
from stratum import kernels
from stratum.cpu import budget as cpu_budget
from stratum.cpu import demand as cpu_demand
from stratum.keys import clock
from stratum.keys import libsettings
from stratum.keys import randomness
from stratum.engine import fold
from stratum.engine import recipe
from stratum.engine import restore
from stratum.engine import scope
from stratum._native import Hasher
from stratum.engine.effects import NO_RECEIVER
from stratum.engine.effects import also_mutated as _also_mutated
from stratum.engine.effects import effect_of as _effects
from stratum.engine.effects import fit_target as _fit_target
from stratum.engine.effects import nbytes as _nbytes
from stratum.engine.effects import resolve_target as _resolve_target
from stratum.keys.derive import derive as _derive
from stratum.keys.lineage import (PLAIN_SCALARS, Lineage, Unkeyable, array_parts, file_key,
                                  global_rng_key, indexer_target, is_estimator, scalar_text,
                                  shares_python_objects, watched)

_NO = NO_RECEIVER  # no receiver: a function call, not a method
_SCALARS = frozenset(PLAIN_SCALARS)  # a set: asked of every argument of every operation
MAX_NODES = 200_000
MAX_FOLLOWED = 20_000  # plain values followed by identity per run (replay guards)
#: A reusable call whose site last computed in less than this skips the cross-process lock.
LOCK_WORTH = 0.0005
#: A top-level call whose site (or key) last took less than this takes no CPU tokens.
BUDGET_WORTH = 0.002
#: Operations that take no tokens before their call site has shown what it costs.
CHEAP_FAMILIES = ("operator.", "fstring.", "builtins.")


@dataclass(slots=True)  # one object per traced operation, kept for the run: no __dict__
class Node:
    seq: int
    key: str | None
    op: str
    site: str
    inputs: tuple  # tuples of strings: not tracked by the garbage collector
    consts: tuple
    kind: str
    seconds: float
    nbytes: int
    effect: str
    reused: bool
    reason: str | None
    parent: int | None
    impl: str | None = None  # native kernels used, or why the library ran instead
    recipe: object = None  # how to replay it (stratum/engine/recipe.py); top-level operations only
    cpu: float | None = None  # CPU seconds of this process while it ran (None: reused)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


class Engine:
    def __init__(self, cache_factory=None, settings=None, dry=None, on_top_node=None):
        # Hooks a batch gives (through ``Session.hooks``), None otherwise:
        #: ``dry(spec, fn, args, kwargs) -> (spec, fn, args, kwargs)``: a dry run samples its
        #: data sources and stops at a write, before the call is keyed (stratum/batch/dryrun.py).
        self.dry = dry
        #: ``on_top_node(node)``: each top-level node, once recorded (a batch's progress report).
        self.on_top_node = on_top_node
        self.lineage = Lineage()
        self._cache_factory = cache_factory  # opened at the first reusable call
        self._cache = None
        self.settings = settings
        self.nodes: list[Node] = []
        self.dropped_nodes = 0
        self._next_seq = 0
        self.rng_seeded = False
        # [is composite, node seq, impure, ids a memoized user function must not change]
        self._open: list[list] = []
        self._memo_open = 0  # memoized user-function calls running
        self._main_thread = threading.get_ident()
        self.saved_seconds = 0.0
        self.produced: set[str] = set()  # keys of values traced operations returned (replay)
        # Plain Python results of traced operations (replay guards): id -> (value, key).
        self.pyvals: dict[int, tuple] = {}
        self.consts: dict[str, tuple] = {}  # content key -> pickled replay constant
        self.refs: dict[str, tuple] = {}  # key -> its replay reference ("r", key)
        self.followed: dict[str, Node] = {}  # key -> node whose followed result is unchecked
        self.following = True
        self._followed = 0
        self._rng_verdicts: dict[str, bool] = {}  # estimator key -> holds a generator object
        self._site_seconds: dict[str, float] = {}  # call site -> seconds of its last execution
        self._site_wall: dict[tuple, float] = {}  # (op, call site) -> its last wall seconds
        self._cpu_history = None  # stratum.cpu.demand.History, read at the first costly call
        self.cpu_waited = 0.0  # seconds top-level calls waited for CPU tokens
        # Hot loops of cheap operations (stratum/engine/fold.py): per call instruction
        # (id of the code, offset), the code and its cheap top-level executions in a row, and
        # the sites folded since (each site holds its code: the id stays that code's).
        self._fold_after = settings.fold_after if settings is not None else 32
        self._cheap_in_a_row: dict[tuple, list] = {}
        self._folded: dict[tuple, fold.Site] = {}
        self.folded_calls = 0

    def adopt_thread(self) -> None:
        """Trace the calls of the calling thread from now on (and no other thread's).

        The engine is not thread-safe: it traces one thread. A batch's shared part
        (``stratum.batch.shared``) runs operations on executor threads one at a time, under a
        lock, each adopting its thread before it enters the engine.
        """
        self._main_thread = threading.get_ident()

    def _side_effect(self, spec, args, kwargs, recv) -> bool:
        """Does this call, made by user code inside a running operation, reach outside it?

        Output and randomness always do; a change in place does when the changed object
        existed before the operation (it has a lineage entry), not when the code made it.
        """
        effect, mutated, _ = _effects(spec, args, kwargs, recv)
        if effect == SINK or spec.random is not None or effect == RANDOM:
            return True
        if effect != MUTATES:
            return False
        target = _resolve_target(mutated, args, kwargs, recv)
        if target is _NO:
            return True
        ids = self.lineage._ids
        return any(id(t) in ids or any(id(o) in ids for o in self.lineage.owners(t))
                   for t in (target, *_also_mutated(spec, args, kwargs, recv)))

    @property
    def cache(self):
        """The reuse cache, opened on first use (None when disabled or unusable)."""
        if self._cache_factory is not None:
            factory, self._cache_factory = self._cache_factory, None
            self._cache = factory()
        return self._cache

    def _mark_impure(self) -> None:
        for entry in self._open:
            entry[2] = True

    def _memo_effect(self, spec, args, kwargs, recv, effect, mutated) -> bool:
        """Does this call, inside a memoized user function, have an effect its result would not
        carry: output, a change in place or a fit of an object from outside the call?"""
        if effect == SINK:
            return True
        outside = set()
        for entry in self._open:
            if entry[3] is not None:
                outside |= entry[3]
        if effect in (MUTATES, FIT):
            target = _resolve_target(mutated, args, kwargs, recv) if effect == MUTATES else \
                _fit_target(spec, args, recv)
            if target is _NO or id(target) in outside:
                return True
            if any(id(o) in outside for o in self.lineage.owners(target)):
                return True
            return any(id(t) in outside or any(id(o) in outside for o in self.lineage.owners(t))
                       for t in _also_mutated(spec, args, kwargs, recv))
        if effect == OPAQUE:
            return any(id(v) in outside for v in (*args, *kwargs.values()))
        return False

    # ------------------------------------------------------------------------------------------
    def memoizable(self, f) -> bool:
        """Should call sites of ``f`` route its calls here (user code that may be memoized)?"""
        from interposer.rewrite import is_rewritten
        from stratum.keys import memo

        if self.settings is not None and not self.settings.memo:
            return False
        return is_rewritten(f.__code__) and memo.blocker(f) is None

    def call_user(self, f, args, kwargs):
        """A call of a user function: one node, skipped on a hit (see ``stratum.keys.memo``)."""
        from stratum.keys import memo

        kwargs = kwargs or {}
        if self._open and not self._open[-1][0] or threading.get_ident() != self._main_thread:
            return f(*args, **kwargs)
        if memo.blocker(f) is not None:
            return f(*args, **kwargs)
        try:
            h = Hasher()
            self.lineage.feed_content(h, f, 0)
            if self.rng_seeded:
                h.update_str(global_rng_key())
            extra = h.hexdigest()
        except Unkeyable:
            return f(*args, **kwargs)
        outside = memo.outside_ids(f, args, kwargs)
        return self.call(memo.spec_for(f), f, args, kwargs, _depth=3, _extra=extra,
                         _outside=outside)

    def call(self, spec, fn, args, kwargs, recv=_NO, _depth=2, _extra=None, _outside=None):
        """Run one intercepted operation: reuse it, or execute and record it.

        A failure of stratum's own (keying an odd object, a broken cache entry format) before
        the operation ran runs it plain, with one line on stderr; once it ran, its result or
        its exception is the script's, whatever stratum's bookkeeping meets afterwards."""
        folded = self._folded
        if folded and _extra is None:
            frame = sys._getframe(_depth)
            site = folded.get((id(frame.f_code), frame.f_lasti))  # see _count_cheap
            if site is not None and not self._open and not self._memo_open \
                    and not spec.caller_scope \
                    and threading.get_ident() == self._main_thread:
                if not kwargs and spec.effect == PURE and spec.random is None \
                        and not spec.estimator_rules:
                    changes = ()  # what fold.changes says, without its look at the arguments
                else:
                    try:
                        changes = fold.changes(spec, args, kwargs or {}, recv)
                        if changes is not None and spec.estimator_rules \
                                and self._rng_holders(args, recv):
                            changes = None
                    except Exception:  # noqa: BLE001 - deciding failed: the traced path decides
                        changes = None
                if changes is not None:
                    return self._run_folded(site, changes, fn, args, kwargs or {})
        started = [False]
        try:
            return self._dispatch(spec, fn, args, kwargs, recv, _depth + 1, _extra, _outside,
                                  started)
        except Exception as exc:
            if started[0]:
                raise
            _internal_error(spec, exc)
            return fn(*args, **(kwargs or {}))

    def _dispatch(self, spec, fn, args, kwargs, recv, _depth, _extra, _outside, started):
        kwargs = kwargs or {}
        if self.dry is not None:
            spec, fn, args, kwargs = self.dry(spec, fn, args, kwargs)
        if self._open and not self._open[-1][0] or threading.get_ident() != self._main_thread:
            # Library code calling itself, or user code called back by a library operation:
            # not recorded. A print or a mutation here makes every open operation impure.
            # An expression reading variables by name (``g.query("a < @t")``): the open
            # operation's key has the callback's code, not the values it reads that way.
            if self._open and (spec.caller_scope or self._side_effect(spec, args, kwargs, recv)):
                for entry in self._open:
                    entry[2] = True
            if spec.caller_scope:  # pandas' walk up the stack would land in stratum's frames
                kwargs = {**kwargs, **scope.inject(spec, args, kwargs, sys._getframe(_depth))}
            started[0] = True
            return fn(*args, **kwargs)
        frame = sys._getframe(_depth)
        site = call_site(frame)
        effect, mutated, reason = _effects(spec, args, kwargs, recv)
        if self._memo_open and (spec.caller_scope or  # reads variables by name: see above
                                self._memo_effect(spec, args, kwargs, recv, effect, mutated)):
            self._mark_impure()
        key, inputs, consts, reason2, rng = self._key(spec, args, kwargs, recv, effect, _extra,
                                                      fn)
        reason = reason or reason2
        if reason is None and key is not None:
            word = clock.shallow(args, kwargs)
            if word is None and spec.name in registry.PARSES_DATES:
                word = clock.deep(spec.name, args, kwargs, None if recv is _NO else recv)
            if word is not None:  # and what it returns is no function of the key: unkeyed
                reason, key = f"reads the clock ({word!r} is the current time)", None
        inject = None
        if spec.caller_scope:  # ``df.query("a > @t")``: ``t`` is an input too
            inject, names, reason3 = scope.bind(spec, args, kwargs, frame, self.lineage)
            reason = reason or reason3
            if key is not None:  # without the variables' keys, the result has none either
                key = _derive(key, names) if names is not None else None
        holders = self._rng_holders(args, recv) if spec.estimator_rules else ()
        if holders and reason is None:
            reason = "draws from a random generator object an estimator holds"
        if self._memo_open and rng and not self.rng_seeded:
            self._mark_impure()  # unseeded randomness inside a memoized function
        if self._open:
            # User code called back inside a composite (a transformer of the script's own in a
            # cross-validation): its output must be printed again and its draws from the
            # global RNG made again, so no open operation may be skipped on a later run,
            # except one that is keyed by the RNG state and restores it itself.
            if effect == SINK:
                self._mark_impure()
            elif rng or spec.random in ("global", "self"):
                # A draw from an RNG object (``np.random.normal`` is the global RandomState's
                # method) changes that object: only the global one is restored on reuse.
                global_rng = spec.random != "self" or recv is np.random.mtrand._rand
                for entry in self._open:
                    if not (global_rng and entry[4]):
                        entry[2] = True
        if _extra is not None:
            rng = self.rng_seeded  # a memoized body may draw from the seeded global RNG
        reusable = spec.reusable and key is not None and reason is None and effect != MUTATES
        if reusable and rng and not self.rng_seeded:
            reason, reusable = "depends on numpy's global RNG, which the script did not seed", False
        if reusable and self.cache is None:
            reusable = False
        call = _Call(spec, fn, args, kwargs, recv, frame, site, key, inputs, consts, effect,
                     mutated, reusable, rng, reason,
                     self._open[-1][1] if self._open else None, self._next_seq)
        call.outside = _outside
        call.holders = holders
        call.inject = inject
        self._next_seq += 1
        if call.parent is None:  # replay recipe: argument references as they are now
            call.entries = recipe.arguments(self, call)
        call.started = started
        if not reusable:
            return self._execute(call)
        t0 = time.perf_counter()
        hit, stored = self.cache.get(key)
        if hit and self._reuse(call, stored, t0):
            return call.result
        # Single flight: another process computing the same key makes this one wait for it,
        # unless this call site computed it in less time than taking the lock costs.
        cheap = self._site_seconds.get(call.site, LOCK_WORTH) < LOCK_WORTH
        with self.cache.flight(key, probed=True, lock=not cheap) as flight:
            if flight.hit and self._reuse(call, flight.value, t0):
                return call.result
            return self._execute(call)

    def _run_folded(self, site, changes, fn, args, kwargs):
        """One operation of a folded site: plain, then what it changed is forgotten."""
        t0 = time.perf_counter()
        try:
            result = site.call(fn, args, kwargs)
        except BaseException:
            self._folded_ran(site, changes, t0)
            raise
        self._folded_ran(site, changes, t0)
        if site.getattr and _is_lib(type(result)):
            self.lineage.add_owner(result, args[0])  # ``df.loc``, ``est.coef_``
        return result

    def _folded_ran(self, site, changes, t0) -> None:
        site.node.seconds += time.perf_counter() - t0
        site.count += 1
        self.folded_calls += 1
        if not changes:
            return
        lin = self.lineage
        if site.repeats(changes, lin.generation):
            return  # the same objects written again, nothing keyed or linked since: no news
        for target in changes:
            try:
                self._changed(target, None, "mutated")
            except Exception:  # noqa: BLE001 - at least its own key goes
                if isinstance(target, np.ndarray):
                    self.lineage.mutated_array(target)
                self.lineage.forget(target)
        site.changed(changes, lin.generation)

    def _count_cheap(self, call, result, reused, reason, nbytes=None) -> None:
        """Fold the call's site once enough top-level operations ran there in a row whose
        results were small and neither reused nor worth caching (``stratum.engine.fold``).
        ``nbytes``: the result's size as its node recorded it, if it was recorded."""
        frame = call.frame
        # Keyed by the code's id, not the code: a code object hashes by its content, nested
        # code objects included, so a module's code costs microseconds per kilobyte of script
        # to hash, at every call. The entries hold the code, so its id is never another's.
        code = frame.f_code
        where = (id(code), frame.f_lasti)
        admitted = call.reusable and reason is None
        if reused or admitted or call.outside is not None or self.dry is not None \
                or (_nbytes(result) if nbytes is None else nbytes) > fold.FOLD_BYTES:
            self._cheap_in_a_row.pop(where, None)
            return
        entry = self._cheap_in_a_row.get(where)
        if entry is None:
            entry = self._cheap_in_a_row[where] = [code, 0]
        entry[1] += 1
        if entry[1] < self._fold_after:
            return
        del self._cheap_in_a_row[where]
        node = Node(self._next_seq, None, call.spec.name, call.site, (), (), fold.FOLDED, 0.0,
                    0, call.effect, False, None, None, None)
        self._next_seq += 1
        node.recipe = ("x", "operations at this site ran untraced (a hot loop)")
        self._folded[where] = site = fold.Site(trampoline(frame), node,
                                               call.spec.name == "operator.getattr", code)
        site.settle(self._fold_after)
        if len(self.nodes) < MAX_NODES:
            self.nodes.append(node)

    def settle_folds(self) -> None:
        """Before the trace is stored: each folded site's node says how many calls it ran."""
        for site in self._folded.values():
            site.settle(self._fold_after)

    def _reuse(self, call, stored, t0) -> bool:
        """Restore a cached call (fitted state, RNG, warnings); False if the entry is unusable."""
        try:
            result = self._restore(call.spec, stored, call.args, call.recv, call.rng, call.frame,
                                   call.kwargs)
            if call.outside is not None:  # a memoized user function: its arguments, by identity
                result = restore.unmark_args(result, call.args, call.kwargs)
        except Exception as exc:  # an entry that does not fit this call: recompute
            call.reason = f"cached entry unusable ({type(exc).__name__})"
            return False
        seconds = time.perf_counter() - t0
        self.saved_seconds += max(0.0, stored[2] - seconds)
        self._outputs(call, result)
        self._record(call, result, seconds, True, None)
        call.result = result
        return True

    def _tokens(self, call) -> int:
        """Take the CPU tokens a top-level call needs (``stratum.cpu``); returns how many."""
        settings = self.settings
        if settings is not None and not settings.cpu_budget or self.dry is not None:
            return 0  # off; or a batch's dry run (a prediction: its audit hook would take the
            # pool's first open for the script's own file write)
        spec = call.spec
        last = self._site_wall.get((spec.name, call.site))
        if last is not None and last < BUDGET_WORTH:
            return 0  # this operation at this call site was cheap last time
        if last is None and spec.name.startswith(CHEAP_FAMILIES) \
                and spec.name not in cpu_demand.BLAS_FUNCTIONS:
            return 0
        budget = cpu_budget.current()
        if budget is None:
            return 0
        cores = min(budget.cores, cpu_budget.usable_cores())
        history = self._cpu_history
        if history is None:
            history = self._cpu_history = cpu_demand.History(
                settings.cache_dir if settings is not None and settings.cache_enabled else None,
                cores)
        library = cpu_demand.library_cores(spec.name, call.args, call.kwargs,
                                           None if call.recv is _NO else call.recv, cores,
                                           spec.estimator_rules)
        k, wall = history.predict(call.key, spec.name, call.site, library)
        if wall is not None and wall < BUDGET_WORTH and last is None and k == 1:
            return 0  # cheap whenever it ran before
        waited = budget.waited
        taken = budget.take(k)
        self.cpu_waited += budget.waited - waited
        return taken

    def _execute(self, call):
        spec, args, kwargs = call.spec, call.args, call.kwargs
        entry = [spec.composite, call.seq, False, call.outside, call.rng]
        top = not self._open
        self._open.append(entry)
        memo = call.outside is not None
        self._memo_open += memo
        call_as_user = trampoline(call.frame)
        reusable = call.reusable
        tokens = 0
        if top:  # before any capture starts: a wait is not part of the operation
            try:
                tokens = self._tokens(call)
            except Exception as exc:  # noqa: BLE001 - the budget's failure: run without it
                from stratum.config import warn_once

                warn_once("cpu-budget", f"CPU budget off ({type(exc).__name__}: {exc})")
                self.settings = _without_budget(self.settings)
        try:
            filters = filters_state() if reusable else None
            t0 = time.perf_counter()
            shown = start_capture()
            if reusable:  # what it writes and reads is part of what a reuse must reproduce
                given = _given_state(call)
                channels.record_streams()
                files = channels.watch_files()
        except BaseException:
            if tokens:
                cpu_budget.current().give()
            raise
        kernel_mark = kernels.mark()
        c0 = time.process_time()
        call.started[0] = True
        try:
            result = call_as_user(call.fn, args,
                                  {**kwargs, **call.inject} if call.inject else kwargs)
        finally:
            seconds = time.perf_counter() - t0
            call.cpu = time.process_time() - c0
            if tokens:
                cpu_budget.current().give()
            if top:
                self._site_wall[(spec.name, call.site)] = seconds
            if reusable:
                channels.stop_files()
                channels.stop_streams()
            end_capture()
            self._open.pop()
            self._memo_open -= memo
            call.impl = kernels.since(kernel_mark)
            if memo and entry[2] and self._open:
                self._mark_impure()  # an effect inside a nested memoized call is the caller's too
        try:
            if reusable and given != _given_state(call):
                call.reason = "changes objects it was given (not replayed)"
                call.reusable = False
                for v in (call.recv, *args, *kwargs.values()):
                    self.lineage.forget(v)
            self._after(call, result, seconds, entry, shown, filters, files if reusable else ())
        except Exception as exc:  # stratum's own bookkeeping: the result stands, untracked
            _internal_error(spec, exc)
            for v in (*args, *kwargs.values(), result):
                self.lineage.forget(v)
        return result

    def _after(self, call, result, seconds, entry, shown, filters, files) -> None:
        """Keys, cache admission and the trace node of a computed call."""
        spec, args, kwargs, memo = call.spec, call.args, call.kwargs, call.outside is not None
        self._outputs(call, result)
        if call.effect == MUTATES and spec.mutates == "global_rng":
            self.rng_seeded = randomness.seeded_by(args, kwargs)
        reason = call.reason
        if entry[2]:  # user code it ran printed or changed a library object: never skip it
            reason = ("has side effects (output, randomness or in-place changes)" if memo else
                      "runs user code with side effects (prints or in-place changes)")
            for v in (*args, *kwargs.values()):
                self.lineage.forget(v)
        elif call.reusable:
            reason = (channels.unreplayable(shown)
                      or _aliases_input(result, args, kwargs, self.lineage.is_linked, call.recv)
                      or _holds_input(call, result)
                      or self._admit(call, result, seconds, shown, filters, files))
        elif reason is None:
            reason = _why_not(spec, call.effect, call.key)
        self._record(call, result, seconds, False, reason)

    def _admit(self, call, result, seconds, shown, filters, files) -> str | None:
        """Store a computed result; None when stored, else why not."""
        try:
            read = _file_inputs(files)
        except OSError as exc:  # a file it read is gone or unreadable now
            return f"a file it read cannot be checked ({exc.strerror or exc})"
        if call.spec.estimator_rules:
            why = _output_from_c(call) or _fit_keeps_a_view(call)
            if why:
                return why
        stored = self._stored(call.spec, result, call.args, call.recv, call.rng, seconds,
                              site_relative(shown, call.frame), filters, read, call.kwargs)
        if call.outside is not None:  # ``return df``: a hit must hand back the caller's object
            stored = (restore.mark_args(stored[0], call.args, call.kwargs), *stored[1:])
        if self.cache.put(call.key, stored, seconds):
            return None
        return "not admitted to the cache (cheaper to recompute than to load)"

    # ------------------------------------------------------------------------------------------
    def call_key(self, spec, args, kwargs, recv, effect, extra=None):
        """(key, input keys, constants) a call gets, without running it (a batch checks a
        recorded data source against the file as it is now)."""
        return self._key(spec, args, kwargs, recv, effect, extra)

    @property
    def opened_cache(self):
        """The cache if it was opened (never opens it: ``cache`` does)."""
        return self._cache

    def use_cache(self, cache) -> None:
        """Look up and admit through ``cache`` from now on (a batch wraps the engine's own)."""
        self._cache = cache

    def _key(self, spec, args, kwargs, recv, effect, extra=None, fn=None):
        """Key of the call, input keys, constant arguments, a reason if unkeyable, RNG use."""
        lin = self.lineage
        h = lin.key_hasher()
        h.update_str(spec.name)
        if extra is not None:
            h.update_str(extra)
        if extra is not None or spec.name.startswith("sklearn."):
            h.update_str(libsettings.sklearn_config())
        h.update_str(libsettings.numpy_errstate(np))
        h.update_str(libsettings.pandas_options())
        h.update_str(libsettings.numpy_printoptions())
        inputs, consts = [], []
        rng = False
        try:
            if recv is not _NO:
                k = lin.key_of(recv)
                inputs.append(k)
                h.update_str(k)
            for v in args:
                self._feed_input(h, v, inputs, consts)
            if kwargs:
                for name in sorted(kwargs):
                    h.update_str(name)
                    self._feed_input(h, kwargs[name], inputs, consts, name)
            if recv is _NO and extra is None and fn is not None and not _named(fn):
                # A callable object (a scorer, a column selector, a closure): what it does
                # is its state, not its class (listed last: recipes read inputs in order)
                k = lin.key_of(fn)
                inputs.append(k)
                h.update_str(k)
            if effect == SOURCE:
                path = _path_argument(spec, args, kwargs)
                if path is None:
                    return None, inputs, consts, "data source is not a file path", False
                h.update_str(file_key(path))
            rng = randomness.uses_global_rng(spec, args, kwargs, recv)
            if rng:
                h.update_str(global_rng_key())
        except Unkeyable as exc:
            return None, inputs, consts, str(exc), rng
        except OSError as exc:
            return None, inputs, consts, f"data source unreadable: {exc.strerror}", rng
        except randomness.NotReproducible as exc:
            return None, inputs, consts, str(exc), rng
        return h.hexdigest(), inputs, consts, None, rng

    def _feed_input(self, h, v, inputs, consts, name=None):
        if type(v) in _SCALARS:
            text = scalar_text(v)
            h.update_str(text)
            consts.append(text[:80] if name is None else f"{name}={text[:80]}")
            return
        k = self.lineage.key_of(v)
        inputs.append(k)
        h.update_str(k)

    # ------------------------------------------------------------------------------------------
    def _stored(self, spec, result, args, recv, rng, seconds, shown, filters=None, files=(),
                kwargs=None):
        """What the cache keeps: (output, fitted state, cost, RNG state after, warnings and text
        shown, the warning filters they were shown under, files read with their content keys)."""
        state, out = None, result
        target = _fit_target(spec, args, recv)
        if target is not _NO:
            state = restore.snapshot(target, args, kwargs)
            out = restore.mark_self(result, target)
        post_rng = np.random.get_state() if rng else None
        axes = restore.shared_axes(result, _sources(args, recv)) if target is _NO else ()
        return (out, state, seconds, post_rng, shown, filters, files, axes)

    def _restore(self, spec, stored, args, recv, rng, frame=None, kwargs=None):
        out, state, _cost, post_rng, shown = stored[:5]
        filters = stored[5] if len(stored) > 5 else None
        if filters is not None and filters != filters_state():
            # Recorded under other filters: what it showed is not what it would show now (a
            # warning ignored then must show now; one shown then must raise under "error").
            raise WarningFiltersChanged()
        for path, key in stored[6] if len(stored) > 6 else ():
            if file_key(path) != key:  # a file it read changed: its result may too
                raise InputsChanged(path)
        target = _fit_target(spec, args, recv)
        if state is not None:
            restore.apply(target, state, args, kwargs)
        if post_rng is not None:
            np.random.set_state(post_rng)
        replay_warnings(shown, frame)
        if len(stored) > 7 and stored[7]:
            restore.reattach(out, stored[7], _sources(args, recv))
        return restore.unmark_self(out, target)

    def _outputs(self, call, result):
        """Keys after the call: changed inputs re-keyed, the result (and a fitted estimator)
        keyed by the call's key, or left to be keyed by content when the call's key does not
        determine it (unknown library code, draws from a generator object)."""
        spec, key, recv, args, kwargs, mutated = (call.spec, call.key, call.recv, call.args,
                                                 call.kwargs, call.mutated)
        lin = self.lineage
        if mutated is not None:
            target = _resolve_target(mutated, args, kwargs, recv)
            if target is not _NO:
                self._changed(target, key, "mutated")
            for i, extra in enumerate(_also_mutated(spec, args, kwargs, recv)):
                self._changed(extra, key, f"mutated+{i}")
        if spec.effect == OPAQUE:
            for v in (*args, *kwargs.values()):
                if isinstance(v, np.ndarray):
                    lin.mutated_array(v)
                lin.forget(v)
        for holder in call.holders:
            lin.forget(holder)  # its generator moved on: keyed by content from now on
        if spec.name == "operator.getattr" and args and _is_lib(type(result)):
            lin.add_owner(result, args[0])  # ``df.loc``, ``df.index``, ``est.coef_``
        if key is None:
            return
        if call.effect == OPAQUE or call.holders:
            # Not a function of its keyed inputs: the same key next time could stand for
            # other values (fresh random data, a file's new contents).
            target = _fit_target(spec, args, recv)
            for v in (result, *(result if type(result) in (tuple, list) else ())):
                if v is not target:
                    lin.forget(v)
            if target is not _NO:
                lin.forget(target)
            return
        produced = self.produced
        produced.add(key)
        if mutated is not None:
            produced.add(_derive(key, "mutated"))
        target = _fit_target(spec, args, recv)
        if target is not _NO:
            fitted = _derive(key, "fitted")
            lin.remember(target, fitted)
            produced.add(fitted)
            given = (*args, *kwargs.values())
            if _holds_memory_of(target, given):  # ``_fit_X``, a KDTree over ``X``: writing
                for v in given:  # into the data it was fitted on later changes the model
                    if isinstance(v, np.ndarray) or hasattr(type(v), "_get_axis"):
                        lin.add_owner(v, target)
        if result is None or result is target:
            return
        if mutated is not None and result is _resolve_target(mutated, args, kwargs, recv):
            return
        rtype = type(result)
        frame = hasattr(rtype, "_get_axis")
        if rtype not in _SCALAR_SET and not is_estimator(result) \
                and not (getattr(rtype, "__module__", None) or "").startswith("pandas"):
            given = _unwatched_inputs(args, kwargs)
            if given and (_holds(result, given) or _opaque(result)):
                # ``make_scorer(cost)`` holds ``cost``, whose globals the script may rebind;
                # ``np.frompyfunc(f, 1, 1)`` may, where no attribute shows it: the call's key
                # does not stay the result's, which is keyed by content at each use. (pandas
                # builds its objects' state when it makes them: a groupby holding its list of
                # keys computed its groups already.)
                return
        if frame:
            self._link_frame(result, args, kwargs, recv)
        lin.remember(result, key)
        if rtype in recipe.GUARD_TYPES:
            self._guard_value(result, key)
        if (rtype is tuple or rtype is list) and len(result) <= 64:
            for i, item in enumerate(result):
                k = _derive(key, str(i))
                lin.remember(item, k)
                produced.add(k)
                if type(item) in recipe.GUARD_TYPES:
                    self._guard_value(item, k)

    def array_resized(self, arr) -> None:
        """The script calls ``arr.resize(...)`` (``interposer.dispatch`` runs it plain)."""
        self.lineage.release(arr)

    def raw_buffer_written(self) -> None:
        """The script wrote into a ``bytearray`` / ``memoryview`` / ``mmap`` / ``ctypes`` array
        (``interposer.dispatch``): arrays over such memory are keyed by content again."""
        self.lineage.written_anywhere()

    def _link_frame(self, result, args, kwargs, recv) -> None:
        """A frame or series over the memory of an array it was given (``pd.DataFrame(arr,
        copy=False)``), or of a frame linked so: numpy writes to that array show in it, so it
        is linked to the array (``Lineage.add_owner``) and re-keyed when the array is written.
        (Over memory Python writes without numpy, ``np.frombuffer(buf)``, its key is also dated
        like such an array's: ``Lineage.known``.)"""
        lin = self.lineage
        parts = None
        sources = (*args, *kwargs.values()) if recv is _NO else (recv, *args, *kwargs.values())
        for v in sources:
            if isinstance(v, np.ndarray):
                arrays = (v,)
            elif hasattr(type(v), "_get_axis") and lin.is_linked(v):
                arrays = _buffers(v, frames=True)
            else:
                continue
            parts = _buffers(result, frames=True) if parts is None else parts
            for a in arrays:
                if any(np.may_share_memory(p, a) for p in parts):
                    lin.add_owner(v, result)
                    lin.link(result)
                    break

    def _changed(self, target, key, what) -> None:
        """``target`` was changed in place by the operation ``key``: give it a new key, and to
        what changes with it (the frame behind ``df.loc[...] = v``, the frame whose
        ``df.index.name`` was set, the estimator whose ``coef_`` was written into)."""
        lin = self.lineage
        produced = self.produced
        owners = lin.owners(target)
        if isinstance(target, np.ndarray) or any(isinstance(o, np.ndarray) for o in owners):
            lin.mutated_array(target)  # arrays keyed before may be views of what changed
        elif _is_extension_array(target):  # ``df["a"].array[0] = v``: the frame's block
            for part in array_parts(target):
                lin.mutated_array(part)
        if key is None:
            lin.forget(target)
        else:
            k = _derive(key, what)
            lin.remember(target, k)
            produced.add(k)
        for i, owner in enumerate(owners):
            if isinstance(owner, np.ndarray):
                lin.forget(owner)  # keyed by content again at its next use
                continue
            before = None
            if key is not None:
                try:
                    before = lin.key_of(owner)
                except Unkeyable:
                    before = None
            if before is None:
                lin.forget(owner)
                continue
            # The owner's key before the change and the change itself (whose key may only
            # describe the part it touched, e.g. a content-keyed index).
            k = _derive(_derive(key, before), f"{what}:{i}")
            lin.remember(owner, k)
            produced.add(k)

    def _rng_holders(self, args, recv) -> tuple:
        """The estimators among the receiver and first argument that hold a random generator
        object (``random_state=np.random.RandomState(0)``, a fitted ``random_state_``): a call
        may draw from it, which a key cannot describe and a reuse would not do. The verdict is
        kept per key: an estimator with the same key holds the same objects."""
        holders = ()
        verdicts = self._rng_verdicts
        for obj in (recv, args[0] if args else None):
            if obj is _NO or obj is None or not hasattr(type(obj), "get_params"):
                continue
            key = self.lineage.known(obj)
            verdict = verdicts.get(key) if key is not None else None
            if verdict is None:
                verdict = _holds_rng(obj, 0)
                if key is not None:
                    if len(verdicts) > 10_000:
                        verdicts.clear()
                    verdicts[key] = verdict
            if verdict:
                holders += (obj,)
        return holders

    def _guard_value(self, value, key) -> None:
        """Remember a plain result by identity, so a later use of it is a replayable input."""
        if not self.following:
            return
        t = type(value)
        if t is bool or value is None or (t is int and -5 <= value <= 256) \
                or (t in (str, tuple) and len(value) <= 1):
            return  # shared objects (small ints, one-character strings): identity means nothing
        pyvals = self.pyvals
        self._followed += 1
        if self._followed > MAX_FOLLOWED:
            # Following plain values sends every operation on them through here: past this
            # many, stop (a loop over a followed number); what was followed becomes a guard.
            self.following = False
            for v, k in pyvals.values():
                recipe.make_strict(self, v, k)
            pyvals.clear()
            return
        if len(pyvals) >= 4096:  # bounded: the oldest go first, and become guards
            for k in list(pyvals)[:1024]:
                v, vk = pyvals.pop(k)
                recipe.make_strict(self, v, vk)
        # An operation returning one of its inputs (max, min, an item of a followed tuple)
        # keeps that value's first producer: other uses of the same object are uses of it.
        pyvals.setdefault(id(value), (value, key))

    def _record(self, call, result, seconds, reused, reason):
        if call.reusable and not reused:
            self._site_seconds[call.site] = seconds
        nbytes = None
        try:
            nbytes = self._record_node(call, result, seconds, reused, reason)
        finally:
            if call.parent is None and self._fold_after:
                self._count_cheap(call, result, reused, reason, nbytes)

    def _record_node(self, call, result, seconds, reused, reason):
        """Append the call's node; returns the result's size it recorded (None: dropped)."""
        if len(self.nodes) >= MAX_NODES:
            self.dropped_nodes += 1
            return None
        nbytes = _nbytes(result)
        node = Node(call.seq, call.key, call.spec.name, call.site, tuple(call.inputs),
                    tuple(call.consts), type(result).__name__, seconds, nbytes,
                    call.effect, reused, reason, call.parent, None if reused else call.impl)
        if not reused:
            node.cpu = call.cpu
        if call.parent is None:
            recipe.attach(self, call, node, result)
        self.nodes.append(node)
        if call.parent is None and self.on_top_node is not None:
            try:
                self.on_top_node(node)
            except Exception:  # a report must never change the run
                pass
        return nbytes


def _without_budget(settings):
    import dataclasses

    from stratum.config import Settings

    return dataclasses.replace(settings or Settings.from_env(), cpu_budget=False)


def _internal_error(spec, exc) -> None:
    from stratum.config import warn_once

    warn_once("internal-error", f"internal error while handling {spec.name} "
              f"({type(exc).__name__}: {exc}); such operations run without stratum")


class WarningFiltersChanged(Exception):
    """A cached call was recorded under other warning filters: it is computed again."""


class InputsChanged(Exception):
    """A file a cached call read has other contents now: it is computed again."""


class _Call:
    """What the engine knows about one intercepted call while it handles it."""

    __slots__ = ("spec", "fn", "args", "kwargs", "recv", "frame", "site", "key", "inputs",
                 "consts", "effect", "mutated", "reusable", "rng", "reason", "parent", "seq",
                 "result", "impl", "outside", "entries", "holders", "started", "cpu", "inject")

    def __init__(self, spec, fn, args, kwargs, recv, frame, site, key, inputs, consts, effect,
                 mutated, reusable, rng, reason, parent, seq):
        self.spec, self.fn, self.args, self.kwargs, self.recv = spec, fn, args, kwargs, recv
        self.frame, self.site, self.key, self.inputs, self.consts = frame, site, key, inputs, consts
        self.effect, self.mutated, self.reusable, self.rng = effect, mutated, reusable, rng
        self.reason, self.parent, self.seq = reason, parent, seq
        self.result = None
        self.impl = None
        self.outside = None
        self.entries = None
        self.holders = ()
        self.started = [False]
        self.cpu = None
        self.inject = None  # keyword arguments added when it runs (stratum.engine.scope)


def _named(fn) -> bool:
    """Is ``fn`` what its module and qualified name import back to (a library function, a
    class, a ufunc)? Then its name, part of the op name, identifies it; any other callable
    (an instance with ``__call__``, a closure) is keyed by its state."""
    return recipe.importable(fn) is not None


def _holds_rng(obj, depth, types_=None) -> bool:
    state = getattr(obj, "__dict__", None)
    if state is None or depth > 3 or not hasattr(type(obj), "get_params"):
        return False
    types_ = randomness.rng_types() if types_ is None else types_
    for value in state.values():
        if isinstance(value, types_):
            return True
        if type(value) in (list, tuple):
            for item in value[:64]:
                for part in item if type(item) is tuple else (item,):
                    if hasattr(part, "__dict__") and _holds_rng(part, depth + 1, types_):
                        return True
        elif hasattr(value, "__dict__") and _holds_rng(value, depth + 1, types_):
            return True
    return False


def _output_from_c(call) -> str | None:
    """A verbose estimator that may print from C (not recorded, so not replayable)."""
    for top in (call.recv, *call.args[:1], call.kwargs.get("estimator")):
        if top is _NO or top is None or not hasattr(top, "get_params"):
            continue
        for est in randomness.walk(top):
            if getattr(est, "verbose", 0) and not registry.verbose_in_python(type(est)):
                return (f"{type(est).__name__}(verbose=...) may print from C code "
                        "(not replayed, so not admitted)")
    return None


def _fit_keeps_a_view(call) -> str | None:
    """A fitted model whose state holds the memory of an array it was fitted on other than as
    that very array (a ``KDTree`` over ``X``): plain python's model sees the script's later
    writes to ``X``, a restored copy would not. (An attribute that *is* the argument is
    restored as the caller's object: ``restore.snapshot``.)"""
    target = _fit_target(call.spec, call.args, call.recv)
    if target is _NO or not _holds_memory_of(target, (*call.args, *call.kwargs.values()),
                                             direct=False):
        return None
    return "the fitted model holds the memory of the data it was fitted on (a reuse would " \
           "hold a copy)"


def _holds_memory_of(target, args, direct: bool = True) -> bool:
    """Does ``target``'s state hold the memory of one of the arrays among ``args``: as an
    attribute that is that array (when ``direct``), or anywhere inside it (``_fit_X``, a tree's
    data)? Walked through attributes, containers and, for a library's objects without a
    ``__dict__`` (Cython trees), what pickling saves of them, within ``_WALK_LIMIT`` objects."""
    given = {id(a) for a in args if isinstance(a, np.ndarray)}  # (restored as the argument)
    inputs = [p for a in args for p in _buffers(a, frames=True)]  # frames: their blocks
    if not inputs:
        return False
    state = list(vars(target).values())
    if direct and any(id(v) in given for v in state):
        return True
    seen: set = set()
    todo = [(v, 0) for v in state if id(v) not in given]
    while todo and len(seen) < _WALK_LIMIT:
        v, depth = todo.pop()
        t = type(v)
        if id(v) in seen or depth > 4 or t in _SCALAR_SET and t is not np.ndarray:
            continue
        seen.add(id(v))
        if isinstance(v, np.ndarray):
            if any(np.may_share_memory(v, a) for a in inputs):
                return True
        elif t in (list, tuple, set):
            todo.extend((x, depth + 1) for x in list(v)[:64])
        elif t is dict:
            todo.extend((x, depth + 1) for x in list(v.values())[:64])
        elif isinstance(v, (type, types.ModuleType, types.FunctionType, str, bytes)) \
                or hasattr(t, "_get_axis"):
            continue
        elif getattr(v, "__dict__", None):
            todo.extend((x, depth + 1) for x in list(vars(v).values())[:64])
        elif (t.__module__ or "").partition(".")[0] in registry.LIB_ROOTS:
            try:  # a Cython object (a tree): what pickling saves of it
                reduced = v.__reduce_ex__(4)
            except Exception:  # noqa: BLE001 - nothing to walk
                continue
            if type(reduced) is tuple:
                todo.extend((x, depth + 1) for x in reduced[1:3])
    return False


_MUTABLE = (list, dict, set, bytearray)
_WALK_LIMIT = 400


def _given_state(call) -> list:
    """What a reuse could not reproduce if the call changed it: the objects it was given.

    Containers (lists, dicts, sets) by identity and length, estimators by which objects their
    attributes are, walked a few levels deep from the receiver and the arguments. A fit's
    target (and what it holds) is walked through its parameters only: a fit changes the rest,
    and a reuse restores that. Cost: the objects given, never the data inside arrays."""
    target = _fit_target(call.spec, call.args, call.recv)
    sig: list = []
    seen: set = set()
    todo = [(v, 0, v is target) for v in (call.recv, *_given(call), *call.kwargs.values())
            if v is not _NO]
    while todo and len(seen) < _WALK_LIMIT:
        v, depth, params_only = todo.pop()
        t = type(v)
        if id(v) in seen or t in _SCALAR_SET or depth > 4:
            continue
        seen.add(id(v))
        params_only = params_only or v is target  # however it is reached
        if isinstance(v, _MUTABLE):
            sig.append((id(v), len(v)))
            items = v.values() if isinstance(v, dict) else v if t is not bytearray else ()
            todo.extend((x, depth + 1, params_only) for x in list(items)[:64])
        elif t is tuple:
            todo.extend((x, depth + 1, params_only) for x in v[:64])
        elif hasattr(t, "get_params") and hasattr(v, "__dict__"):
            state = vars(v)
            if params_only:
                try:
                    names = v.get_params(deep=False)
                except Exception:
                    names = state
                items = [(n, state.get(n)) for n in names if n in state]
            else:
                items = list(state.items())
            sig.append((id(v), tuple((n, id(x)) for n, x in items)))
            todo.extend((x, depth + 1, params_only) for _, x in items)
    return sig


_SCALAR_SET = frozenset(_SCALARS) | {np.ndarray}


def _sources(args, recv) -> tuple:
    return args if recv is _NO else (recv, *args)


def _given(call) -> tuple:
    """The positional arguments that are the script's objects (not the library's scratch)."""
    scratch = call.spec.scratch
    if not scratch:
        return call.args
    return tuple(v for i, v in enumerate(call.args) if i not in scratch)


def _holds_input(call, result) -> str | None:
    """A result holding one of the call's arguments (``make_union(pca, scaler)`` holds them):
    a reuse would hand back copies where the computed result shares the caller's objects."""
    if result is None or type(result) in _SCALAR_SET or _fit_target(
            call.spec, call.args, call.recv) is not _NO:
        return None  # a fit's state is merged into the objects the script holds (restore)
    given: set = set()
    todo = [(v, 0) for v in (*_given(call), *call.kwargs.values())]
    if call.recv is not _NO:
        todo.append((call.recv, 0))
    while todo and len(given) < _WALK_LIMIT:  # the arguments and what their containers hold
        v, depth = todo.pop()  # (``make_column_transformer((scaler, "a"), ...)``)
        if type(v) in _SCALAR_SET or id(v) in given:
            continue
        given.add(id(v))
        if depth < 2 and type(v) in (list, tuple, dict, set):
            todo.extend((x, depth + 1) for x in list(v.values() if type(v) is dict else v)[:64])
    if not given:
        return None
    if _holds(result, given):
        return "returns or holds an object it was given (a reuse would hand back a copy)"
    return None


def _holds(result, given: set) -> bool:
    """Is an object whose id is in ``given`` the result, or held inside it (containers, the
    attributes of an estimator or any plain object, a pandas indexer's frame; not a frame's
    or an array's insides), at most 4 levels deep?"""
    seen: set = set()
    todo = [(result, 0)]
    while todo and len(seen) < _WALK_LIMIT:
        v, depth = todo.pop()
        t = type(v)
        if id(v) in seen or t in _SCALAR_SET or depth > 4:
            continue
        if id(v) in given:
            return True
        seen.add(id(v))
        if t in (list, tuple, set):
            todo.extend((x, depth + 1) for x in list(v)[:64])
        elif t is dict:
            todo.extend((x, depth + 1) for x in list(v.values())[:64])
        else:
            # a frame's and an array's axes are handed back by ``restore.reattach``
            base = indexer_target(v)
            if base is not None:
                todo.append((base, depth + 1))
            elif not hasattr(t, "_get_axis") and hasattr(v, "__dict__") and not isinstance(
                    v, (type, types.ModuleType, types.FunctionType)):
                todo.extend((x, depth + 1) for x in list(vars(v).values())[:64])
    return False


def _opaque(result) -> bool:
    """A library object whose references no attribute shows (a ufunc made by
    ``np.frompyfunc``, a C object): what it holds cannot be looked at."""
    t = type(result)
    return not getattr(result, "__dict__", None) and t not in (list, tuple, dict, set) \
        and not isinstance(result, np.ndarray) and not hasattr(t, "_get_axis")


def _unwatched_inputs(args, kwargs) -> set:
    """Ids of the arguments (and the items of argument containers) whose changes stratum does
    not see: functions, the script's own objects, plain lists and dicts (``lineage.watched``)."""
    ids: set = set()
    todo = [(v, 0) for v in (*args, *kwargs.values())]
    while todo and len(ids) < _WALK_LIMIT:
        v, depth = todo.pop()
        t = type(v)
        if t in _SCALAR_SET:
            continue
        if t in (list, tuple, dict, set):
            if t is not tuple:
                ids.add(id(v))
            if depth < 2:
                todo.extend((x, depth + 1) for x in list(v.values() if t is dict else v)[:64])
        elif not watched(v):
            ids.add(id(v))
    return ids


def _aliases_input(result, args, kwargs, linked=None, recv=_NO) -> str | None:
    """A result that is (a view of) an input's memory: a reuse would hand back a copy, and writes
    through one would no longer reach the other (``np.asarray(X)``, ``copy=False``). pandas
    results share their inputs' buffers all the time under copy-on-write, where no write can
    tell (a feature function returning ``df.assign(...)``): only arrays count here, and a
    frame or series over an array it was given (``pd.DataFrame(arr, copy=False)``): numpy
    writes to ``arr`` show in the frame, which copy-on-write does not guard."""
    outs = result if type(result) in (tuple, list) else (result,)
    out_parts = [p for o in outs[:16] for p in _buffers(o, frames=True)]
    given = (*args, *kwargs.values()) if recv is _NO else (recv, *args, *kwargs.values())
    if type(result) in (list, dict) and shares_python_objects(result, given):
        return "holds objects of its input, which the script can change (not admitted)"
    if not out_parts:
        return None
    for v in (*args, *kwargs.values()):  # (a frame over an array the script holds counts too)
        frames = linked is not None and hasattr(type(v), "_get_axis") and linked(v)
        for part in _buffers(v, frames=frames):
            if any(np.may_share_memory(o, part) for o in out_parts):
                return "returns a view of its input (not admitted)"
    if any(p.dtype.hasobject for p in out_parts) and shares_python_objects(result, given):
        return "holds objects of its input, which the script can change (not admitted)"
    return None


def _is_extension_array(v) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(v, pd.api.extensions.ExtensionArray)


def _buffers(v, frames: bool = False) -> list:
    """The numpy buffers behind an array (and, with ``frames``, a Series or a DataFrame)."""
    if isinstance(v, np.ndarray):
        return [v]
    if not frames:
        return []
    mgr = getattr(v, "_mgr", None)
    if mgr is None or not hasattr(type(v), "_get_axis"):
        return []
    out = []
    for block in getattr(mgr, "blocks", ())[:64]:
        values = block.values
        for part in (values, getattr(values, "_ndarray", None), getattr(values, "_data", None)):
            if isinstance(part, np.ndarray):
                out.append(part)
                break
    return out


def _file_inputs(paths) -> tuple:
    """(real path, content key) of each file a computed call opened for reading."""
    out, seen = [], set()
    for path in paths:
        real = os.path.realpath(path)
        if real in seen or not os.path.isfile(real):
            continue
        seen.add(real)
        out.append((real, file_key(real)))
    return tuple(out)


def _is_lib(t) -> bool:
    lib = registry.LIB_TYPE_CACHE.get(t)
    return registry.is_lib_type(t) if lib is None else lib


def _path_argument(spec, args, kwargs):
    pos, kw = spec.path_arg
    value = kwargs.get(kw) if kw in kwargs else (args[pos] if len(args) > pos else None)
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        return value
    return None


def _why_not(spec, effect, key) -> str:
    if effect == SINK:
        return "side effect (output)"
    if effect == MUTATES:
        return "mutates its input in place"
    if effect == OPAQUE:
        return "unknown library operation (opaque)"
    if not spec.reusable:
        return "cheap operation (not worth caching)"
    if key is None:
        return "inputs could not be keyed"
    return "no cache"
