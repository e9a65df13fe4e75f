"""The op registry: which library operations stratum intercepts and what each one does.

One declarative table. A row names an operation by its public path and gives its effect;
families of operations (every pandas method, every ufunc, every estimator's ``transform``)
get their effect from ``FAMILY_DEFAULTS`` so adding an operation is one row, not new code.

Effects:
  pure       output depends only on inputs; reusable
  source     reads a file (keyed by path, size, mtime and content hash); reusable
  sink       prints or writes; always executed, recorded
  mutates    changes an argument in place (``mutates`` names it); executed, the object re-keyed
  fit        mutates the receiver into a fitted state; reusable (a hit restores that state)
  random     depends on an RNG given by ``random`` (parameter name, or the global RNG)
  opaque     unknown library code: executed, never reused; its arguments may have changed
"""
from __future__ import annotations

import builtins
import os
import sys
import types
from dataclasses import dataclass, replace

from interposer.libraries import TRACED_LIBRARIES  # noqa: F401 - also registry.TRACED_LIBRARIES

LIB_ROOTS = frozenset(TRACED_LIBRARIES)

PURE, SOURCE, SINK, MUTATES, FIT, RANDOM, OPAQUE = (
    "pure", "source", "sink", "mutates", "fit", "random", "opaque")


@dataclass(frozen=True)
class OpSpec:
    """One operation's row: its public name, its effect and the rules that refine it.

    (A docstring of its own: without one, ``@dataclass`` builds ``__doc__`` from
    ``inspect.signature`` at every run's start-up.)"""

    name: str
    effect: str = PURE
    reusable: bool = True
    mutates: str | int | None = None  # "self", a positional index, or a keyword name
    random: str | None = None  # parameter holding random_state; "global" for the global RNG
    composite: bool = False  # records the library calls it makes (folds, pipeline steps)
    inplace_rule: bool = False  # pandas: ``inplace=True`` turns it into a mutation of self
    path_arg: tuple = ()  # source: (position, keyword) of the path argument
    returns_self: bool = False  # fit-like: the result is the receiver
    also_mutates: tuple = ()  # further arguments changed in place (``rng.shuffle(x)``: x)
    # scikit-learn's conventions apply: ``copy=False`` (an argument, or the estimator's own
    # parameter) changes X in place; an estimator holding a generator object draws from it
    estimator_rules: bool = False
    # arguments the library made for this call alone (``_fit_and_score`` gets a clone of the
    # script's estimator): changing or returning them is not an effect on the script's objects
    scratch: tuple = ()
    # (position, keyword) of an expression whose names pandas resolves in the caller's frame
    # (``df.query("a > @t")``): those variables are inputs too (stratum.engine.scope)
    caller_scope: tuple = ()


#: The in-place operator methods (``a.__iadd__(b)`` is what ``a += b`` calls).
INPLACE_DUNDERS = tuple(f"__i{op}__" for op in (
    "add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow", "lshift", "rshift",
    "and", "or", "xor"))


def _op(name, effect=PURE, **kw) -> tuple[str, OpSpec]:
    if effect in (SINK, MUTATES, OPAQUE):
        kw.setdefault("reusable", False)
    return name, OpSpec(name=name, effect=effect, **kw)


def _source(name, pos=0, kw="filepath_or_buffer"):
    return _op(name, SOURCE, path_arg=(pos, kw))


# ---------------------------------------------------------------------------------------------
# Explicit rows: operations whose effect differs from their family's default.
# ---------------------------------------------------------------------------------------------
ROWS: dict[str, OpSpec] = dict([
    # data sources
    _source("pandas.read_csv"), _source("pandas.read_table"), _source("pandas.read_fwf"),
    _source("pandas.read_json", kw="path_or_buf"), _source("pandas.read_excel", kw="io"),
    _source("pandas.read_parquet", kw="path"), _source("pandas.read_pickle"),
    _source("pandas.read_feather", kw="path"), _source("pandas.read_orc", kw="path"),
    _source("numpy.load", kw="file"), _source("numpy.loadtxt", kw="fname"),
    _source("numpy.genfromtxt", kw="fname"), _source("numpy.fromfile", kw="file"),
    # sinks
    _op("builtins.print", SINK),
    *[_op(f"pandas.{cls}.{m}", SINK) for cls in ("DataFrame", "Series") for m in (
        "to_csv", "to_json", "to_pickle", "to_excel", "to_hdf", "to_sql", "to_latex",
        "to_markdown", "to_clipboard", "plot", "hist", "info")],
    *[_op(f"pandas.DataFrame.{m}", SINK) for m in (
        "to_parquet", "to_feather", "to_html", "to_stata", "boxplot")],
    *[_op(f"numpy.{f}", SINK) for f in ("save", "savetxt", "savez", "savez_compressed")],
    _op("numpy.ndarray.tofile", SINK), _op("numpy.ndarray.dump", SINK),
    # in-place mutation through a method
    *[_op(f"pandas.DataFrame.{m}", MUTATES, mutates="self") for m in (
        "insert", "pop", "update", "__setitem__", "__delitem__")],
    *[_op(f"pandas.Series.{m}", MUTATES, mutates="self") for m in (
        "pop", "update", "__setitem__", "__delitem__")],
    *[_op(f"numpy.ndarray.{m}", MUTATES, mutates="self") for m in (
        "sort", "fill", "resize", "put", "partition", "setfield", "setflags",
        "byteswap", "__setitem__", *INPLACE_DUNDERS)],
    # ``df.__iadd__(1)`` called by name, as ``df += 1`` does: pandas changes the object itself
    *[_op(f"pandas.{c}.{m}", MUTATES, mutates="self") for c in ("DataFrame", "Series")
      for m in INPLACE_DUNDERS if m not in ("__imatmul__", "__ilshift__", "__irshift__")],
    *[_op(f"numpy.{f}", MUTATES, mutates=0) for f in (
        "copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis")],
    # randomness
    _op("numpy.random.seed", MUTATES, mutates="global_rng"),
    _op("numpy.random.shuffle", MUTATES, mutates=0, random="global"),
    _op("numpy.random.default_rng", PURE, reusable=False, random="seed"),
    _op("numpy.random.RandomState", PURE, reusable=False, random="seed"),
    _op("sklearn.model_selection.train_test_split", RANDOM, random="random_state"),
    _op("sklearn.utils.shuffle", RANDOM, random="random_state"),
    _op("sklearn.utils.resample", RANDOM, random="random_state"),
    _op("pandas.DataFrame.sample", RANDOM, random="random_state"),
    _op("pandas.Series.sample", RANDOM, random="random_state"),
    # settings: they change (or read) what later calls do; a reuse would skip the change
    *[_op(f"numpy.{f}", PURE, reusable=False) for f in (
        "set_printoptions", "get_printoptions", "printoptions", "seterr", "geterr", "seterrcall",
        "setbufsize", "getbufsize", "errstate")],
    *[_op(f"pandas.{f}", PURE, reusable=False) for f in (
        "set_option", "get_option", "reset_option", "option_context", "describe_option",
        "set_eng_float_format")],
    *[_op(f"sklearn.{f}", PURE, reusable=False) for f in (
        "set_config", "get_config", "config_context")],
    # answers about memory, not values: the same key can stand for other buffers
    *[_op(f"numpy.{f}", PURE, reusable=False) for f in (
        "shares_memory", "may_share_memory")],
    # composites: reusable as a whole, and they record the per-fold / per-step work they do
    *[_op(f"sklearn.model_selection.{f}", PURE, composite=True, estimator_rules=True) for f in (
        "cross_val_score", "cross_validate", "cross_val_predict", "learning_curve",
        "validation_curve", "permutation_test_score")],
    # sklearn internals patched at import time (called by Pipeline, ColumnTransformer, CV)
    _op("sklearn.pipeline._fit_transform_one", FIT, composite=True),
    _op("sklearn.pipeline._fit_one", FIT, composite=True),
    _op("sklearn.model_selection._validation._fit_and_score", PURE, composite=True,
        scratch=(0,)),
    # expressions that read the caller's variables (``@t`` in a query, any name in pd.eval)
    *[_op(f"pandas.DataFrame.{m}", PURE, inplace_rule=True, caller_scope=(0, "expr"))
      for m in ("query", "eval")],
    _op("pandas.eval", PURE, caller_scope=(0, "expr"), inplace_rule=True, mutates="target"),
    # pandas accessors that return views of ``self``
    *[_op(f"pandas.{cls}.{m}", PURE, reusable=False) for cls in ("DataFrame", "Series") for m in (
        "head", "tail", "copy", "__getitem__", "__len__", "keys", "items", "__iter__",
        "to_numpy", "to_dict", "to_string", "__repr__", "__str__", "describe", "nunique",
        "value_counts")],
    *[_op(f"pandas.DataFrame.{m}", PURE, reusable=False) for m in ("iterrows", "itertuples")],
    *[_op(f"pandas.Series.{m}", PURE, reusable=False) for m in ("to_list", "tolist", "unique")],
])

# Operations that parse dates: the strings "now" / "today" among the text values of their
# array-like arguments make them read the clock (``stratum.keys.clock``; every operation's
# plain string arguments are looked at anyway).
PARSES_DATES = frozenset({
    "pandas.to_datetime", "pandas.Timestamp", "pandas.date_range", "pandas.bdate_range",
    "pandas.period_range", "pandas.Period", "pandas.DatetimeIndex", "pandas.PeriodIndex",
    "pandas.Series", "pandas.DataFrame", "pandas.Index", "pandas.array",
    "pandas.Series.astype", "pandas.DataFrame.astype", "pandas.Index.astype",
    "numpy.array", "numpy.asarray", "numpy.datetime64", "numpy.ndarray.astype",
})

# Methods of estimators, by name: effect, reusable, returns_self.
ESTIMATOR_METHODS: dict[str, OpSpec] = {
    "fit": OpSpec("fit", FIT, returns_self=True),
    "fit_transform": OpSpec("fit_transform", FIT),
    "fit_predict": OpSpec("fit_predict", FIT),
    "fit_resample": OpSpec("fit_resample", FIT),
    "partial_fit": OpSpec("partial_fit", MUTATES, reusable=False, mutates="self"),
    "set_params": OpSpec("set_params", MUTATES, reusable=False, mutates="self"),
    "set_output": OpSpec("set_output", MUTATES, reusable=False, mutates="self"),
    **{m: OpSpec(m, PURE) for m in (
        "transform", "predict", "predict_proba", "predict_log_proba", "decision_function",
        "score", "score_samples", "inverse_transform", "apply", "staged_predict",
        "kneighbors")},
    **{m: OpSpec(m, PURE, reusable=False) for m in (
        "get_params", "get_feature_names_out", "get_support", "split", "get_n_splits")},
}

COMPOSITE_ESTIMATORS = ("Pipeline", "ColumnTransformer", "FeatureUnion", "GridSearchCV",
                        "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV",
                        "TransformedTargetRegressor", "StackingClassifier", "StackingRegressor",
                        "VotingClassifier", "VotingRegressor")

# Estimators whose ``verbose`` output is written by Python code (``print``, ``sys.stderr.write``,
# joblib's progress lines): a reuse replays it (``interposer.channels``). Any other estimator
# with a true ``verbose`` may print from C or Fortran (libsvm, liblinear, L-BFGS-B), which is
# not recorded, so its calls are not admitted to the cache. Class-name prefixes.
VERBOSE_IN_PYTHON = ("Pipeline", "FeatureUnion", "ColumnTransformer", "GridSearchCV",
                     "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV",
                     "HistGradientBoosting", "GradientBoosting", "SGD", "KMeans", "MiniBatchKMeans",
                     "RandomForest", "ExtraTrees", "Bagging", "IsolationForest", "IterativeImputer",
                     "Stacking", "Voting", "RFECV", "RFE", "SequentialFeatureSelector",
                     "MultiOutput", "OneVsRest", "OneVsOne")


def verbose_in_python(t: type) -> bool:
    return t.__name__.startswith(VERBOSE_IN_PYTHON)


OPERATORS = {name: OpSpec(f"operator.{name}", PURE, reusable=False) for name in (
    "add", "and_", "floordiv", "lshift", "matmul", "mul", "mod", "or_", "pow", "rshift", "sub",
    "truediv", "xor", "lt", "le", "eq", "ne", "gt", "ge", "neg", "invert", "getitem", "getattr")}
OPERATORS.update({name: OpSpec(f"operator.{name}", MUTATES, reusable=False, mutates=0) for name in (
    "iadd", "iand", "ifloordiv", "ilshift", "imatmul", "imul", "imod", "ior", "ipow", "irshift",
    "isub", "itruediv", "ixor", "setitem", "delitem", "setattr")})


def operator_spec(name: str) -> OpSpec:
    return OPERATORS[name]


# ---------------------------------------------------------------------------------------------
# Resolution: callable / (type, method name) -> OpSpec or None (not a library operation)
# ---------------------------------------------------------------------------------------------
LIB_TYPE_CACHE: dict[type, bool] = {}


def _root(module: str | None) -> str:
    return module.partition(".")[0] if module else ""


def is_lib_type(t: type) -> bool:
    """Is ``t`` a type defined by one of the traced libraries (instances are library values)?"""
    result = _root(getattr(t, "__module__", None)) in LIB_ROOTS and t is not types.ModuleType
    LIB_TYPE_CACHE[t] = result
    return result


_by_object: dict[int, tuple[object, OpSpec]] = {}
_resolved_roots: set[str] = set()
#: set by :func:`reindex`; the index is rebuilt at the next resolution (see :func:`_index_all`)
_stale = False


#: Submodules that rows name and that were not imported yet when the index was built (numpy
#: imports ``numpy.random`` on first use, scikit-learn its subpackages). Looking such a row up
#: must not import them: a script that never uses ``np.random`` would pay ~13 ms at its first
#: numpy call. ``interposer.importer`` asks for a reindex once one of them is imported.
PENDING: set[str] = set()


def _unimported_submodule(module, attr: str) -> bool:
    """Is ``module.attr`` a submodule of the package ``module`` not imported yet (what a lazy
    ``__getattr__`` would import)? Told from the package's folder, without importing."""
    if attr in module.__dict__:
        return False
    for folder in getattr(module, "__path__", None) or ():
        try:
            if os.path.isdir(os.path.join(folder, attr)) or \
                    os.path.isfile(os.path.join(folder, attr + ".py")):
                return True
        except (TypeError, ValueError):
            return False
    return False


def _lookup_path(path: str):
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        modname = ".".join(parts[:cut])
        module = sys.modules.get(modname)
        if module is None:
            continue
        obj = module
        for attr in parts[cut:]:
            if isinstance(obj, types.ModuleType) and _unimported_submodule(obj, attr):
                PENDING.add(f"{obj.__name__}.{attr}")
                return None
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return obj
    return None


def _index_rows(root: str) -> None:
    """Map the row targets of one library to their objects, once that library is imported."""
    if root in _resolved_roots or root not in sys.modules:
        return
    _resolved_roots.add(root)
    for name, spec in ROWS.items():
        if _root(name) != root:
            continue
        obj = _lookup_path(name)
        if obj is not None and callable(obj):
            _by_object[id(obj)] = (obj, spec)


def _index_all() -> None:
    """Bring the object index up to date. Looking a row up can import a library module (a lazy
    ``__getattr__``) whose import-time patch asks for a reindex while this pass is under way:
    the pass is then made again, so no resolution ever sees a half-built index (a function
    missing from it would get its family's default spec: ``read_csv`` keyed by its path)."""
    global _stale
    while True:
        if _stale:
            _stale = False
            _by_object.clear()
            _resolved_roots.clear()
            _builtin_print_row()
            _resolved_roots.add("builtins")
        for root in LIB_ROOTS | {"builtins"}:
            _index_rows(root)
        if not _stale:
            return


def resolve_callable(f) -> OpSpec | None:
    """The spec of a plain callable (function, builtin, ufunc, class) at a call site."""
    _index_all()
    hit = _by_object.get(id(f))
    if hit is not None and hit[0] is f:
        return hit[1]
    if isinstance(f, type):
        if not is_lib_type(f):
            return None
        return OpSpec(f"{_public_module(f)}.{f.__qualname__}", PURE, reusable=False)
    module = getattr(f, "__module__", None)
    root = _root(module)
    if root not in LIB_ROOTS:
        if type(f).__name__ == "ufunc" or _root(getattr(type(f), "__module__", None)) == "numpy":
            root, module = "numpy", "numpy"
        else:
            return None
    qual = getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or type(f).__name__
    name = f"{_public_module(f)}.{qual}"
    if root == "numpy" and module and module.startswith("numpy.random"):
        return OpSpec(name, RANDOM, random="global")
    return _family_default(root, module or "", name)


def _family_default(root: str, module: str, name: str) -> OpSpec:
    rules = root == "sklearn"
    if root == "sklearn" and (module.startswith("sklearn.datasets") and ".make_" in name):
        return OpSpec(name, RANDOM, random="random_state", estimator_rules=True)
    if root in ("numpy", "pandas") or module.startswith(("sklearn.metrics", "sklearn.datasets",
                                                          "sklearn.preprocessing",
                                                          "sklearn.feature_extraction",
                                                          "sklearn.pipeline", "sklearn.compose")):
        return OpSpec(name, PURE, estimator_rules=rules)
    return OpSpec(name, OPAQUE, reusable=False, estimator_rules=rules)


def _public_module(obj) -> str:
    module = getattr(obj, "__module__", None) or ""
    root = _root(module)
    if root in ("numpy", "pandas"):
        return root
    return module


def resolve_method(t: type, name: str) -> OpSpec | None:
    """The spec of ``obj.name(...)`` for an instance of library type ``t``."""
    if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
        return None
    _index_all()
    for klass in t.__mro__:
        root = _root(klass.__module__)
        if root not in LIB_ROOTS:
            continue
        row = ROWS.get(f"{root}.{klass.__qualname__}.{name}")
        if row is not None:
            return replace(row, name=f"{_public_module(t)}.{t.__qualname__}.{name}")
    qual = f"{_public_module(t)}.{t.__qualname__}.{name}"
    root = _root(t.__module__)
    if root == "sklearn":
        return _estimator_method(t, name, qual)
    if root == "pandas":
        if hasattr(t, "__next__"):
            # a reader that is an iterator (``read_csv(..., iterator=True)``, ``read_json(...,
            # lines=True, chunksize=n)``, ``StataReader``): every call moves it on
            return OpSpec(qual, MUTATES, reusable=False, mutates="self")
        return OpSpec(qual, PURE, inplace_rule=True)
    if root == "numpy":
        if t.__name__ == "Generator" or t.__name__ == "RandomState":
            # ``shuffle`` also permutes its argument in place
            also = (0,) if name == "shuffle" else ()
            return OpSpec(qual, MUTATES, reusable=False, mutates="self", random="self",
                          also_mutates=also)
        if t.__name__ == "ufunc" and name == "at":  # ``np.add.at(a, idx, v)`` writes into a
            return OpSpec(qual, MUTATES, reusable=False, mutates=0)
        return OpSpec(qual, PURE, reusable=False)
    return OpSpec(qual, OPAQUE, reusable=False)


def _estimator_method(t: type, name: str, qual: str) -> OpSpec:
    base = ESTIMATOR_METHODS.get(name)
    if base is None:
        return OpSpec(qual, OPAQUE, reusable=False)
    composite = t.__name__ in COMPOSITE_ESTIMATORS or any(
        k.__name__ in COMPOSITE_ESTIMATORS for k in t.__mro__)
    return replace(base, name=qual, composite=composite and base.effect in (FIT, PURE),
                   estimator_rules=True)


def all_rows() -> dict[str, OpSpec]:
    """The explicit table (for tests and ``stratum doctor``)."""
    return dict(ROWS)


def reindex() -> None:
    """Look the row targets up again at the next resolution: an import-time patch replaced a
    library function by its wrapper, or put the original back (``interposer.patches``).
    Only marks the index stale: this can run in the middle of an indexing pass."""
    global _stale
    _stale = True


def _builtin_print_row():
    _by_object[id(builtins.print)] = (builtins.print, ROWS["builtins.print"])


_builtin_print_row()
_resolved_roots.add("builtins")
