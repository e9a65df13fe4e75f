/* stratum PEP 523 entry trap (CPython 3.11).
 *
 * This file is the C source of the cffi API-mode module `stratum._trap` (see trap_build.py). It is
 * compiled into the `stratum._native` extension by native/build.rs and must be compiled with
 * `Py_BUILD_CORE` and `_CFFI_NO_LIMITED_API` defined (the frame layout is an internal header).
 *
 * On the first evaluation of a code object the hook asks `interposer.trap._on_code(code)` for a
 * replacement code object and records the answer in the code object's co_extra slot:
 *   NULL            -> not seen yet
 *   TRAP_LEAVE      -> leave alone (also set on replacement code objects themselves)
 *   any other value -> strong reference to the replacement code object (released by freefunc)
 * Every frame of an already decided code object leaves the hook after one pointer compare.
 *
 * cffi releases the GIL around calls into this module, so the exported functions that touch
 * interpreter state take it back themselves.
 */
#include <Python.h>

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
#error "the stratum entry trap supports CPython 3.11 only"
#endif
#ifndef Py_BUILD_CORE
#error "compile the stratum entry trap with -DPy_BUILD_CORE"
#endif

#include "internal/pycore_frame.h"

#if defined(_MSC_VER)
#define TRAP_TLS __declspec(thread)
#else
#define TRAP_TLS _Thread_local
#endif

/* Layout of co_extra in CPython 3.11 (Objects/codeobject.c keeps it private). Checked against
 * _PyCode_GetExtra at install time; if it does not match, the public accessor is used. */
typedef struct {
    Py_ssize_t ce_size;
    void *ce_extras[1];
} trap_code_extra;

static char trap_leave_marker;
#define TRAP_LEAVE ((void *)&trap_leave_marker)

static Py_ssize_t trap_index = -1;      /* co_extra index, requested once per process */
static int trap_fast_extra = 0;         /* 1 when trap_code_extra matches the interpreter */
static _PyFrameEvalFunction trap_prev = NULL; /* NULL: _PyEval_EvalFrameDefault */
static int trap_active = 0;
static int trap_in_chain = 0;           /* trap_eval is somewhere in the eval-function chain */
static PyObject *trap_callback = NULL;  /* interposer.trap._on_code (strong) */
static int trap_callback_failed = 0;
static long long trap_counters[3];      /* frames entered, callbacks, swaps */
static TRAP_TLS int trap_busy = 0;      /* this thread is running the callback */

int stratum_trap_install(void);
int stratum_trap_uninstall(void);
int stratum_trap_installed(void);
long long stratum_trap_stats(int which);

static void
trap_free_extra(void *p)
{
    if (p != NULL && p != TRAP_LEAVE) {
        Py_DECREF((PyObject *)p);
    }
}

static inline void *
trap_get_extra(PyCodeObject *co)
{
    if (trap_fast_extra) {
        trap_code_extra *ce = (trap_code_extra *)co->co_extra;
        if (ce == NULL || trap_index >= ce->ce_size) {
            return NULL;
        }
        return ce->ce_extras[trap_index];
    }
    void *extra = NULL;
    if (_PyCode_GetExtra((PyObject *)co, trap_index, &extra) < 0) {
        PyErr_Clear();
        return TRAP_LEAVE;
    }
    return extra;
}

static inline PyObject *
trap_run_original(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag)
{
    if (trap_prev == NULL) {
        return _PyEval_EvalFrameDefault(ts, f, throwflag);
    }
    return trap_prev(ts, f, throwflag);
}

static PyObject *
trap_get_callback(void)
{
    if (trap_callback != NULL || trap_callback_failed) {
        return trap_callback;
    }
    PyObject *mod = PyImport_ImportModule("interposer.trap");
    if (mod == NULL) {
        PyErr_Clear();
        trap_callback_failed = 1;
        return NULL;
    }
    trap_callback = PyObject_GetAttrString(mod, "_on_code");
    Py_DECREF(mod);
    if (trap_callback == NULL) {
        PyErr_Clear();
        trap_callback_failed = 1;
    }
    return trap_callback;
}

/* Ask the callback about an unseen code object; store and return the decision (TRAP_LEAVE or a
 * borrowed reference to the replacement, owned by co_extra). Returns NULL when no decision could
 * be made (no callback): the frame then runs unchanged and the code stays unseen. */
static void *
trap_decide(PyThreadState *ts, PyCodeObject *co)
{
    if (PyErr_Occurred() || _Py_IsFinalizing()) {
        return NULL;
    }
    trap_busy = 1;
    PyObject *cb = trap_get_callback();
    PyObject *res = NULL;
    if (cb != NULL) {
        trap_counters[1]++;
        res = PyObject_CallOneArg(cb, (PyObject *)co);
    }
    trap_busy = 0;
    if (cb == NULL) {
        return NULL;
    }
    void *decision = TRAP_LEAVE;
    if (res == NULL) {
        PyErr_Clear();
    }
    else if (PyCode_Check(res) && res != (PyObject *)co) {
        decision = res; /* steal */
        if (trap_get_extra((PyCodeObject *)res) == NULL) {
            if (_PyCode_SetExtra(res, trap_index, TRAP_LEAVE) < 0) {
                PyErr_Clear();
            }
        }
    }
    else {
        Py_DECREF(res);
    }
    /* Another thread may have decided while the callback ran with the GIL released. */
    void *existing = trap_get_extra(co);
    if (existing != NULL) {
        if (decision != TRAP_LEAVE) {
            Py_DECREF((PyObject *)decision);
        }
        return existing;
    }
    if (_PyCode_SetExtra((PyObject *)co, trap_index, decision) < 0) {
        PyErr_Clear();
        if (decision != TRAP_LEAVE) {
            Py_DECREF((PyObject *)decision);
        }
        return TRAP_LEAVE;
    }
    return decision;
}

/* Evaluate a fresh function frame by calling `callee` with the frame's bound arguments. */
static PyObject *
trap_call_with_frame_args(PyObject *callee, PyCodeObject *co, _PyInterpreterFrame *f, int *not_done)
{
    int flags = co->co_flags;
    Py_ssize_t argc = co->co_argcount;
    Py_ssize_t kwc = co->co_kwonlyargcount;
    PyObject **lp = f->localsplus;
    PyObject *varargs = NULL, *varkw = NULL;
    Py_ssize_t i;

    for (i = 0; i < argc + kwc; i++) {
        if (lp[i] == NULL) {
            *not_done = 1;
            return NULL;
        }
    }
    if (flags & CO_VARARGS) {
        varargs = lp[argc + kwc];
        if (varargs == NULL || !PyTuple_Check(varargs)) {
            *not_done = 1;
            return NULL;
        }
    }
    if (flags & CO_VARKEYWORDS) {
        varkw = lp[argc + kwc + ((flags & CO_VARARGS) ? 1 : 0)];
        if (varkw == NULL || !PyDict_Check(varkw)) {
            *not_done = 1;
            return NULL;
        }
    }
    Py_ssize_t nvar = varargs ? PyTuple_GET_SIZE(varargs) : 0;
    PyObject *args = PyTuple_New(argc + nvar);
    if (args == NULL) {
        return NULL;
    }
    for (i = 0; i < argc; i++) {
        Py_INCREF(lp[i]);
        PyTuple_SET_ITEM(args, i, lp[i]);
    }
    for (i = 0; i < nvar; i++) {
        PyObject *v = PyTuple_GET_ITEM(varargs, i);
        Py_INCREF(v);
        PyTuple_SET_ITEM(args, argc + i, v);
    }
    PyObject *kwargs = NULL;
    if (kwc > 0 || (varkw != NULL && PyDict_GET_SIZE(varkw) > 0)) {
        kwargs = PyDict_New();
        if (kwargs == NULL) {
            Py_DECREF(args);
            return NULL;
        }
        for (i = 0; i < kwc; i++) {
            PyObject *name = PyTuple_GET_ITEM(co->co_localsplusnames, argc + i);
            if (PyDict_SetItem(kwargs, name, lp[argc + i]) < 0) {
                Py_DECREF(args);
                Py_DECREF(kwargs);
                return NULL;
            }
        }
        if (varkw != NULL && PyDict_Update(kwargs, varkw) < 0) {
            Py_DECREF(args);
            Py_DECREF(kwargs);
            return NULL;
        }
    }
    PyObject *res = PyObject_Call(callee, args, kwargs);
    Py_DECREF(args);
    Py_XDECREF(kwargs);
    return res;
}

static PyObject *
trap_swap(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag, PyObject *repl)
{
    PyCodeObject *co = f->f_code;
    PyCodeObject *rc = (PyCodeObject *)repl;
    PyFunctionObject *func = f->f_func;
    int flags = co->co_flags;
    const int genflags = CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR;

    if (throwflag || f->owner != FRAME_OWNED_BY_THREAD ||
        f->prev_instr != _PyCode_CODE(co) - 1 || PyErr_Occurred()) {
        return trap_run_original(ts, f, throwflag);
    }
    if (!(flags & CO_OPTIMIZED)) {
        /* Module body (`__main__`, import), exec()/eval() of a string, class body. */
        PyObject *closure = (func != NULL) ? func->func_closure : NULL;
        Py_ssize_t nclosure = (closure != NULL && PyTuple_Check(closure)) ? PyTuple_GET_SIZE(closure) : 0;
        if ((flags & genflags) || (rc->co_flags & CO_OPTIMIZED) || rc->co_nfreevars != nclosure) {
            return trap_run_original(ts, f, throwflag);
        }
        PyObject *globals = f->f_globals;
        PyObject *locals = (f->f_locals != NULL) ? f->f_locals : globals;
        trap_counters[2]++;
        return PyEval_EvalCodeEx(repl, globals, locals, NULL, 0, NULL, 0, NULL, 0, NULL,
                                 nclosure ? closure : NULL);
    }
    if (func == NULL || !PyFunction_Check(func)) {
        return trap_run_original(ts, f, throwflag);
    }
    /* The replacement must bind arguments exactly like the original. */
    const int argflags = CO_VARARGS | CO_VARKEYWORDS | CO_OPTIMIZED | CO_NEWLOCALS | genflags;
    if (rc->co_argcount != co->co_argcount || rc->co_posonlyargcount != co->co_posonlyargcount ||
        rc->co_kwonlyargcount != co->co_kwonlyargcount || rc->co_nfreevars != co->co_nfreevars ||
        (rc->co_flags & argflags) != (flags & argflags)) {
        return trap_run_original(ts, f, throwflag);
    }
    PyObject *callee = NULL;
    if (func->func_code == (PyObject *)co) {
        if (PyObject_SetAttrString((PyObject *)func, "__code__", repl) < 0) {
            PyErr_Clear();
        }
    }
    trap_counters[2]++;
    if (flags & genflags) {
        /* Later calls run the replacement; this one runs unchanged. */
        return trap_run_original(ts, f, throwflag);
    }
    if (func->func_code == repl) {
        callee = (PyObject *)func;
        Py_INCREF(callee);
    }
    else {
        callee = PyFunction_NewWithQualName(repl, func->func_globals, func->func_qualname);
        if (callee == NULL) {
            return NULL;
        }
        if (func->func_closure != NULL && PyFunction_SetClosure(callee, func->func_closure) < 0) {
            Py_DECREF(callee);
            return NULL;
        }
    }
    int not_done = 0;
    PyObject *res = trap_call_with_frame_args(callee, co, f, &not_done);
    Py_DECREF(callee);
    if (not_done) {
        return trap_run_original(ts, f, throwflag);
    }
    return res;
}

static PyObject *
trap_eval(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag)
{
    trap_counters[0]++;
    void *extra = trap_get_extra(f->f_code);
    if (extra == TRAP_LEAVE || trap_busy || !trap_active) {
        return trap_run_original(ts, f, throwflag);
    }
    if (extra == NULL) {
        if (throwflag) {
            return trap_run_original(ts, f, throwflag);
        }
        extra = trap_decide(ts, f->f_code);
        if (extra == NULL || extra == TRAP_LEAVE) {
            return trap_run_original(ts, f, throwflag);
        }
    }
    return trap_swap(ts, f, throwflag, (PyObject *)extra);
}

/* Check that trap_code_extra matches the interpreter's co_extra layout. */
static void
trap_check_extra_layout(void)
{
    trap_fast_extra = 0;
    PyObject *globals = PyDict_New();
    if (globals == NULL) {
        PyErr_Clear();
        return;
    }
    PyObject *code = Py_CompileString("0", "<stratum-trap-probe>", Py_eval_input);
    Py_DECREF(globals);
    if (code == NULL) {
        PyErr_Clear();
        return;
    }
    if (_PyCode_SetExtra(code, trap_index, TRAP_LEAVE) == 0) {
        trap_code_extra *ce = (trap_code_extra *)((PyCodeObject *)code)->co_extra;
        void *slow = NULL;
        if (ce != NULL && trap_index < ce->ce_size && ce->ce_extras[trap_index] == TRAP_LEAVE &&
            _PyCode_GetExtra(code, trap_index, &slow) == 0 && slow == TRAP_LEAVE) {
            trap_fast_extra = 1;
        }
    }
    PyErr_Clear();
    Py_DECREF(code);
}

int
stratum_trap_install(void)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    int rc = 0;
    PyInterpreterState *interp = PyInterpreterState_Get();
    if (interp != PyInterpreterState_Main()) {
        rc = -1;
    }
    else {
        if (trap_index < 0) {
            trap_index = _PyEval_RequestCodeExtraIndex(trap_free_extra);
            if (trap_index < 0) {
                PyErr_Clear();
                rc = -1;
            }
            else {
                trap_check_extra_layout();
            }
        }
        if (rc == 0) {
            _PyFrameEvalFunction cur = _PyInterpreterState_GetEvalFrameFunc(interp);
            if (!trap_in_chain) {
                trap_prev = (cur == _PyEval_EvalFrameDefault) ? NULL : cur;
                _PyInterpreterState_SetEvalFrameFunc(interp, trap_eval);
                trap_in_chain = 1;
            }
            trap_callback_failed = 0;
            trap_active = 1;
        }
    }
    PyGILState_Release(gil);
    return rc;
}

int
stratum_trap_uninstall(void)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    int rc = 0;
    PyInterpreterState *interp = PyInterpreterState_Main();
    trap_active = 0; /* if another hook chained over ours, ours now passes through */
    if (trap_in_chain) {
        if (_PyInterpreterState_GetEvalFrameFunc(interp) == trap_eval) {
            _PyInterpreterState_SetEvalFrameFunc(
                interp, trap_prev != NULL ? trap_prev : _PyEval_EvalFrameDefault);
            trap_prev = NULL;
            trap_in_chain = 0;
        }
        else {
            rc = -1; /* another hook was installed on top of ours; ours stays in the chain */
        }
    }
    PyGILState_Release(gil);
    return rc;
}

int
stratum_trap_installed(void)
{
    return trap_active;
}

long long
stratum_trap_stats(int which)
{
    if (which < 0 || which > 2) {
        return -1;
    }
    return trap_counters[which];
}
