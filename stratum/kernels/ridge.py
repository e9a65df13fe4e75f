"""Exact fusion of ``Ridge.fit``: fits on the same data share the centring and the Gram matrix.

A grid search over ``alpha`` (or a script trying alphas one run at a time) fits ``Ridge`` many
times on the same fold. With the Cholesky solver everything except the last step,
``solve(X^T X + alpha I, X^T y)``, is the same for every alpha: validation, centring
(``_preprocess_data``), sample-weight rescaling and the Gram matrix. This kernel computes that
part once per content of (X, y, sample_weight, fit_intercept) and replays the rest.

Exactness comes from *not* re-implementing the library's fit: ``Ridge.fit`` runs as it is
(parameter validation, ``validate_data``, ``feature_names_in_``, ``_set_intercept``, every
error and warning in the library's own frames). Only two helpers it calls are replaced, and only
inside a fit this kernel accepted (internal rows of the kernel table):

- ``_preprocess_data`` keys its (already validated) inputs by content (xxh3 of the buffers, their
  shape, strides and dtype) and returns the memoized offsets with a ``_Fused`` token in place of
  the centred X. On a miss it calls the library's own ``_preprocess_data``, rescales and builds
  the Gram matrix with the library's ``safe_sparse_dot`` (the same operation on the same bytes
  gives the same bits), and memoizes the result in an in-process LRU and in stratum's cache.
- ``_ridge_regression`` given a token performs the library's remaining operations for the
  Cholesky path in the library's order: alpha conversion, diagonal update of a copy of the Gram
  matrix, ``scipy.linalg.solve`` (called through a frame standing on the library's line, so a
  ``LinAlgWarning`` points where it would), the dual path through the library's
  ``_solve_cholesky_kernel``, ravel. Anything unusual (a non-finite intermediate that would warn
  or raise, an alpha of the wrong length, a singular matrix that needs the SVD solver) makes it
  hand the real centred arrays to the library's ``_ridge_regression``, before it has shown
  anything, so the library raises or warns itself.
"""
from __future__ import annotations

import threading
import time
import types
from collections import OrderedDict

from stratum.kernels import KERNELS, Kernel, amend, engine_cache

NAME = "Ridge.fit"
MODULE = "sklearn.linear_model._ridge"
VERIFIED = frozenset({"1.9.1"})  # scikit-learn versions whose Ridge code this kernel mirrors
MEMO_BUDGET = 256 << 20  # bytes of Gram matrices kept in process
_PRE_KWARGS = frozenset({"fit_intercept", "copy", "sample_weight", "rescale_with_sw"})
_REG_KWARGS = {"max_iter", "tol", "random_state", "positive", "solver", "alpha",
               "sample_weight", "return_n_iter", "return_intercept", "return_solver",
               "check_input", "fit_intercept"}

_ctx = threading.local()  # .fit: the estimator whose accepted fit is running on this thread


# ---- the memo ----------------------------------------------------------------------------------
class _Entry:
    """What every fit on these inputs shares (never mutated after it is built)."""

    __slots__ = ("dual", "gram", "Xy", "X_offset", "y_offset", "X_scale", "n_targets", "data",
                 "nbytes")

    def __init__(self, dual, gram, Xy, X_offset, y_offset, X_scale, n_targets, data=None):
        self.dual = dual  # n_features > n_samples: gram is X X^T (the library's kernel path)
        self.gram, self.Xy = gram, Xy  # X^T X and X^T y, or X X^T and None
        self.X_offset, self.y_offset, self.X_scale = X_offset, y_offset, X_scale
        self.n_targets = n_targets
        self.data = data  # dual only: the centred, rescaled (X, y 2-D) the coefficients need
        self.nbytes = gram.nbytes + 3 * X_offset.nbytes + sum(
            a.nbytes for a in (Xy, *(data or ())) if a is not None)


class _Memo:
    """LRU of entries by bytes, shared by the threads of the process."""

    def __init__(self, budget: int):
        self.budget = budget
        self.bytes = 0
        self.hits = self.misses = self.loads = 0
        self._items: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return entry

    def put(self, key, entry) -> None:
        if entry.nbytes > self.budget // 2:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old.nbytes
            self._items[key] = entry
            self.bytes += entry.nbytes
            while self.bytes > self.budget:
                _, dropped = self._items.popitem(last=False)
                self.bytes -= dropped.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0
            self.hits = self.misses = self.loads = 0


MEMO = _Memo(MEMO_BUDGET)


def stats() -> dict:
    """Memo counters (hits in process, loads from stratum's cache, misses that built an entry)."""
    return {"hits": MEMO.hits, "loads": MEMO.loads, "misses": MEMO.misses,
            "entries": len(MEMO._items), "bytes": MEMO.bytes}


class _Fused:
    """Stands for the centred X (and y) between ``_preprocess_data`` and ``_ridge_regression``.

    Holds this fit's validated inputs, so the real centred arrays can be rebuilt exactly
    (``_preprocess_data`` with ``copy=True`` is a pure function of them) when the library
    has to take over.
    """

    __slots__ = ("entry", "X", "y", "sample_weight", "pre_kwargs", "preprocess")

    def __init__(self, entry, X, y, sample_weight, pre_kwargs, preprocess):
        self.entry, self.X, self.y, self.sample_weight = entry, X, y, sample_weight
        self.pre_kwargs, self.preprocess = pre_kwargs, preprocess

    def real(self):
        """The library's ``_preprocess_data`` output for this fit."""
        return self.preprocess(self.X, self.y, **self.pre_kwargs)


# ---- Ridge.fit ---------------------------------------------------------------------------------
def _fit_parity(args, kwargs):
    import sys

    import numpy as np
    import sklearn
    from scipy import sparse

    ridge = sys.modules[MODULE]
    est = args[0] if args else None
    if type(est) is not ridge.Ridge:
        return "not a plain Ridge"
    if sklearn.__version__ not in VERIFIED:
        return f"scikit-learn {sklearn.__version__} not verified"
    if _sites() is None:
        return "library source not as verified"
    if est.solver not in ("auto", "cholesky"):
        return f"solver={est.solver!r}"
    if est.positive:
        return "positive=True"
    if est.copy_X is not True:
        return "copy_X=False centres X in place"
    X = args[1] if len(args) > 1 else kwargs.get("X")
    if sparse.issparse(X):
        return "sparse X"
    if sklearn.get_config().get("array_api_dispatch"):
        return "array API dispatch"
    if np.geterr()["under"] != "ignore":
        return "numpy underflow errors enabled"
    return None


def _fit_run(original, args, kwargs):
    previous = getattr(_ctx, "fit", None)
    _ctx.fit = args[0]
    try:
        return original(*args, **kwargs)
    finally:
        _ctx.fit = previous


# ---- _preprocess_data: key, memo, build --------------------------------------------------------
def _pre_parity(args, kwargs):
    return None if getattr(_ctx, "fit", None) is not None else "outside Ridge.fit"


def _pre_run(original, args, kwargs):
    import numpy as np

    _ctx.fit = None  # one _preprocess_data per accepted fit
    X, y = args if len(args) == 2 else (None, None)
    sw = kwargs.get("sample_weight")
    why = None
    if X is None or set(kwargs) != _PRE_KWARGS or kwargs["copy"] is not True \
            or kwargs["rescale_with_sw"] is not False:
        why = "unexpected call of _preprocess_data"
    elif type(X) is not np.ndarray or type(y) is not np.ndarray or X.ndim != 2 \
            or y.ndim not in (1, 2) or X.dtype not in (np.float64, np.float32) \
            or y.dtype.kind not in "fiub" or (sw is not None and (type(sw) is not np.ndarray
                                                                  or sw.dtype != X.dtype)):
        why = "inputs not dense float arrays"
    elif not (X.flags.c_contiguous or X.flags.f_contiguous):
        why = "X not contiguous"
    if why is not None:
        amend(NAME, why)
        return original(*args, **kwargs)
    try:
        key = _content_key(X, y, sw, kwargs["fit_intercept"])
        entry = MEMO.get(key) or _load(key)
    except Exception as exc:  # stratum's own failure: the library does the fit
        amend(NAME, f"kernel failed ({type(exc).__name__})")
        return original(*args, **kwargs)
    if entry is None:
        t0 = time.perf_counter()
        try:
            real = original(X, y, **kwargs)  # the library's centring (may warn or raise)
        except BaseException:
            amend(NAME, "the library raised")
            raise
        try:
            entry = _build(real, sw)
        except Exception as exc:
            amend(NAME, f"kernel failed ({type(exc).__name__})")
            return real
        if entry is None:  # not finite: a warning or an error belongs to the library's steps
            amend(NAME, "non-finite intermediate")
            return real
        MEMO.misses += 1
        MEMO.put(key, entry)
        _save(key, entry, time.perf_counter() - t0)
    token = _Fused(entry, X, y, sw, kwargs, original)
    y_offset = entry.y_offset
    if isinstance(y_offset, np.ndarray):
        y_offset = y_offset.copy()
    return token, token, entry.X_offset.copy(), y_offset, entry.X_scale.copy(), None


def _content_key(X, y, sw, fit_intercept) -> str:
    """Content of the validated inputs, with the layout that decides which BLAS call runs."""
    from stratum._native import Hasher
    from stratum.keys.versions import version_tag

    h = Hasher()
    h.update_str(f"ridge-gram/1;{version_tag()};{_blas_tag()};fit_intercept={bool(fit_intercept)}")
    for a in (X, y, sw):
        if a is None:
            h.update_str("none")
            continue
        h.update_str(f"{a.dtype.str}{a.shape}{a.strides}")
        if a.flags.c_contiguous:
            h.update(a.reshape(-1).view("u1"))
        elif a.flags.f_contiguous:
            h.update(a.T.reshape(-1).view("u1"))
        else:
            import numpy as np

            h.update(np.ascontiguousarray(a).reshape(-1).view("u1"))
    return h.hexdigest()


_blas: list = []


def _blas_tag() -> str:
    """The BLAS libraries, their CPU kernels and *current* thread counts: with another thread
    count OpenBLAS may sum a product in another order (seen for X^T y), so it is in the key."""
    if not _blas:
        from threadpoolctl import ThreadpoolController

        _blas.append(ThreadpoolController().lib_controllers)
    return ";".join(sorted(f"{lib.internal_api}:{lib.filepath}:{lib.version}:"  # load order varies
                           f"{getattr(lib, 'architecture', '')}:{lib.num_threads}"
                           for lib in _blas[0]))


def _build(real, sw):
    """The shared part after the library's centring ``real``, through the library's functions;
    None if anything is not finite (the library's own later steps then warn or raise)."""
    import sys

    import numpy as np

    ridge = sys.modules[MODULE]
    Xc, yc, X_offset, y_offset, X_scale, _ = real
    with np.errstate(all="ignore"):
        y2 = yc.reshape(-1, 1) if yc.ndim == 1 else yc
        if sw is not None:
            sw2 = ridge._check_sample_weight(sw, Xc, dtype=Xc.dtype)
            Xc, y2, _ = ridge._rescale_data(Xc, y2, sw2)
        n_samples, n_features = Xc.shape
        if n_features > n_samples:
            gram = ridge.safe_sparse_dot(Xc, Xc.T, dense_output=True)
            Xy = None
        else:
            gram = ridge.safe_sparse_dot(Xc.T, Xc, dense_output=True)
            Xy = ridge.safe_sparse_dot(Xc.T, y2, dense_output=True)
    parts = [gram, y2, X_offset, np.asarray(y_offset)] + ([] if Xy is None else [Xy])
    if not all(np.isfinite(p).all() for p in parts):
        return None
    if n_features > n_samples:
        # The dual solution needs the centred, rescaled data itself: kept with the entry.
        return _Entry(True, gram, None, X_offset, y_offset, X_scale, y2.shape[1], (Xc, y2))
    return _Entry(False, gram, Xy, X_offset, y_offset, X_scale, y2.shape[1])


# ---- stratum's cache: the Gram matrix across runs and processes ---------------------------------
def _engine_cache():
    return engine_cache()


def _load(key):
    cache = _engine_cache()
    if cache is None:
        return None
    hit, value = cache.get(key)
    if not hit or not isinstance(value, tuple) or len(value) != 6:
        return None
    import numpy as np

    # Fresh, aligned, owned arrays in the stored layout, like the ones a build makes.
    gram, Xy, X_offset, y_offset, X_scale, n_targets = (
        np.array(v, order="K") if isinstance(v, np.ndarray) else v for v in value)
    entry = _Entry(False, gram, Xy, X_offset, y_offset, X_scale, n_targets)
    MEMO.loads += 1
    MEMO.put(key, entry)
    return entry


def _save(key, entry, seconds) -> None:
    if entry.dual:  # holds the data itself: not worth a disk copy
        return
    cache = _engine_cache()
    if cache is not None:
        cache.put(key, (entry.gram, entry.Xy, entry.X_offset, entry.y_offset, entry.X_scale,
                        entry.n_targets), seconds)


# ---- _ridge_regression: the per-alpha part ---------------------------------------------------
def _reg_parity(args, kwargs):
    return None if args and isinstance(args[0], _Fused) else "not a fused fit"


def _reg_run(original, args, kwargs):
    import sys

    ridge = sys.modules[MODULE]
    token = args[0]
    entry = token.entry
    # Dense numpy, positive=False, no intercept from the solver: "auto" resolves to "cholesky".
    if len(args) != 2 or set(kwargs) != _REG_KWARGS or kwargs["positive"] \
            or kwargs["return_intercept"] or kwargs["check_input"] is not False \
            or kwargs["return_n_iter"] is not True or kwargs["return_solver"] is not True \
            or kwargs["solver"] not in ("auto", "cholesky"):
        return _library(original, token, args, kwargs, "unexpected call of _ridge_regression")
    try:
        prepared = _prepare(ridge, token, kwargs["alpha"])
    except Exception as exc:  # stratum's own failure, before anything ran: the library fits
        prepared = f"kernel failed ({type(exc).__name__})"
    if isinstance(prepared, str):
        return _library(original, token, args, kwargs, prepared)
    xp, alpha, gram = prepared
    n_targets = entry.n_targets
    solver = "cholesky"
    try:
        if entry.dual:
            Xc, y2 = entry.data
            dual_coef = ridge._solve_cholesky_kernel(gram, y2, alpha)
            coef = ridge.safe_sparse_dot(Xc.T, dual_coef, dense_output=True).T
        else:
            coef = _solve_cholesky(ridge, gram, entry.Xy, alpha)
    except ridge.linalg.LinAlgError:
        solver = "svd"
    if solver == "svd":  # as the library: its _ridge_regression with the SVD solver
        amend(NAME, "singular matrix: SVD solver")
        return _library(original, token, args, dict(kwargs, solver="svd"), None)
    if n_targets == 1:
        coef = ridge._ravel(coef)
    coef = xp.asarray(coef)
    return coef, None, solver


def _prepare(ridge, token, alpha):
    """(namespace, alpha as the library converts it, a copy of the Gram matrix to regularise),
    or why the library must take over (it then raises or warns itself)."""
    import numpy as np

    entry = token.entry
    xp, _, device = ridge.get_namespace_and_device(token.X, token.y, token.sample_weight)
    try:
        with np.errstate(all="ignore"):
            alpha = ridge._ravel(xp.asarray(alpha, device=device, dtype=entry.gram.dtype), xp=xp)
    except Exception:
        return "alpha not convertible"
    n_targets = entry.n_targets
    if alpha.shape[0] not in (1, n_targets) or not np.isfinite(alpha).all():
        return "alpha not usable"
    if alpha.shape[0] == 1 and n_targets > 1:
        alpha = xp.full(shape=(n_targets,), fill_value=float(alpha[0]), dtype=alpha.dtype,
                        device=device)
    gram = entry.gram.copy()
    if not _diagonal_finite(gram, alpha, entry.dual):  # the library's solve would raise
        return "non-finite regularised matrix"
    return xp, alpha, gram


def _diagonal_finite(gram, alpha, dual) -> bool:
    """Are the matrices the library's solves would see all finite? (check_finite raises else.)

    Only the diagonal changes between them: simulate its updates on a copy.
    """
    import numpy as np

    step = gram.shape[0] + 1
    diag = gram.flat[::step]
    with np.errstate(all="ignore"):
        one = bool((alpha == alpha[0]).all()) if dual else \
            np.array_equal(alpha, len(alpha) * [alpha[0]])
        for a in alpha[:1] if one else alpha:
            diag += a
            if not np.isfinite(diag).all():
                return False
            diag -= a
    return True


def _solve_cholesky(ridge, A, Xy, alpha):
    """The library's ``_solve_cholesky`` after its two products, on a copy of the memoized A."""
    import numpy as np

    one_site, loop_site = _sites()
    n_features = A.shape[1]
    n_targets = Xy.shape[1]
    one_alpha = np.array_equal(alpha, len(alpha) * [alpha[0]])
    solve = ridge.linalg.solve
    if one_alpha:
        with np.errstate(all="ignore"):  # finite: checked, so nothing to warn about
            A.flat[:: n_features + 1] += alpha[0]
        return one_site(solve, (A, Xy), {"assume_a": "pos", "overwrite_a": True}).T
    coefs = np.empty([n_targets, n_features], dtype=A.dtype)
    for coef, target, current_alpha in zip(coefs, Xy.T, alpha):
        with np.errstate(all="ignore"):
            A.flat[:: n_features + 1] += current_alpha
        coef[:] = loop_site(solve, (A, target),
                            {"assume_a": "pos", "overwrite_a": False}).ravel()
        with np.errstate(all="ignore"):
            A.flat[:: n_features + 1] -= current_alpha
    return coefs


def _library(original, token, args, kwargs, why):
    """The library's ``_ridge_regression`` on the real centred arrays of this fit."""
    if why is not None:
        amend(NAME, why)
    Xc, yc = token.real()[:2]
    return original(Xc, yc, **kwargs)


# ---- where the library calls scipy.linalg.solve ------------------------------------------------
_site_cache: list = []


def _sites():
    """Two callers ``(fn, args, kwargs) -> fn(*args, **kwargs)`` whose frames stand on the lines of
    ``_solve_cholesky`` that call ``linalg.solve``, with ``_ridge``'s globals: scipy's warnings
    (``stacklevel=3``) then name the library's line and use its warning registry. None if the
    source is not as verified."""
    if _site_cache:
        return _site_cache[0]
    import inspect
    import sys

    ridge = sys.modules[MODULE]
    sites = None
    try:
        lines, start = inspect.getsourcelines(ridge._solve_cholesky)
        found = [start + i for i, line in enumerate(lines) if "linalg.solve(" in line]
        if len(found) == 2 and "overwrite_a=True" in lines[found[0] - start] \
                and "overwrite_a=False" in lines[found[1] - start]:
            sites = tuple(_site_at(ridge, line) for line in found)
    except (OSError, TypeError):
        sites = None
    _site_cache.append(sites)
    return sites


def _site_at(ridge, lineno):
    template = compile("def _solve_cholesky(fn, args, kwargs): return fn(*args, **kwargs)",
                       ridge.__file__, "exec")
    code = next(c for c in template.co_consts if isinstance(c, types.CodeType))
    code = code.replace(co_firstlineno=lineno)
    return types.FunctionType(code, ridge.__dict__)


KERNELS.extend([
    Kernel(NAME, MODULE, "Ridge", "fit", _fit_parity, _fit_run),
    Kernel("Ridge._preprocess_data", MODULE, None, "_preprocess_data", _pre_parity, _pre_run,
           internal=True),
    Kernel("Ridge._ridge_regression", MODULE, None, "_ridge_regression", _reg_parity, _reg_run,
           internal=True),
])
