/* handle.c: micrograd.engine's Value as a C base type, Handle: a Python object that holds
 * one reference to one node of Python's arena (mg_use), and the functions that make one.
 *
 * A Handle's node index is a C field (read-only `_i`; -1: no node). A table of borrowed
 * pointers maps each node to its live Handle, so that `_prev` hands out the user's own
 * objects; a Handle's dealloc clears its entry and queues its node's release, released
 * in C 256 at a time: no Python code and no allocation per death, so that neither an
 * exception (KeyboardInterrupt, MemoryError) nor a resurrection can lose one. Each node
 * is made and given its Handle in one call here, so no interrupt falls between the two.
 *
 * Threads: the table and the queue are touched only with the GIL held (every function
 * here is called from Python, dealloc included); the arena's own lock guards the arena.
 * Lifetime: the table, the queue and the type are never freed (Values may die after
 * the module at interpreter exit, as the arena is never freed: csrc/arena.c).
 *
 * Not here: the ops (micrograd/engine.py, in Python: Value is a Python subclass of
 * Handle with __dict__ and __weakref__), messages (Python's, through on_error).
 * Only the limited API of CPython 3.9 (Py_LIMITED_API): one cp39-abi3 wheel. This file
 * is not in tests/arena_harness.c's build, which has no Python: the tests call it.
 */
#define Py_LIMITED_API 0x03090000
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mg.h"

typedef struct {
    PyObject_HEAD
    int32_t i;              /* the node this handle holds one reference of; -1: none */
} mg_handle;

static PyTypeObject *handle_type;   /* Handle */
static PyObject *value_type;        /* the class ops make (engine.Value), set by init */
static PyObject *on_error;          /* on_error(status, op, lhs, rhs, arg, is_int): raises */
static PyObject *on_write;          /* on_write(i, field, x): writes any number, or raises */
static PyObject *keep_name;         /* "_keep" */
static mg_arena *arena;             /* Python's arena, given by init */

static PyObject **table;            /* table[i]: node i's live handle (borrowed), or NULL */
static int32_t table_len;
static int32_t queue[MG_HANDLE_BATCH];  /* nodes whose handles died, not yet released */
static int32_t queued;

/* ---------------------------------------------------------------- release */

static int release_queued(void)
{
    int32_t n = queued;
    queued = 0;
    return n ? mg_release(arena, queue, n) : MG_OK;
}

/* Let go of node i for handle h: its table entry (if still h's), and its reference,
 * queued. Allocates nothing and runs no Python code, so no death can be lost. */
static void let_go(PyObject *h, int32_t i)
{
    if (i < table_len && table[i] == h)
        table[i] = NULL;
    if (queued == MG_HANDLE_BATCH)
        release_queued();
    queue[queued++] = i;
}

static void handle_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    int32_t i = ((mg_handle *)self)->i;
    if (i >= 0)
        let_go(self, i);
    freefunc free_self = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    free_self(self);
    Py_DECREF(tp);              /* a heap type's instances hold a reference to it */
}

/* ---------------------------------------------------------------- making handles */

static int table_fit(int32_t i)
{
    if (i < table_len)
        return 0;
    int64_t len = table_len ? 2 * (int64_t)table_len : 1024;
    while (len <= i)
        len *= 2;
    PyObject **t = realloc(table, (size_t)len * sizeof *t);
    if (!t) {
        PyErr_NoMemory();
        return -1;
    }
    memset(t + table_len, 0, (size_t)(len - table_len) * sizeof *t);
    table = t;
    table_len = (int32_t)len;
    return 0;
}

static int is_handle(PyObject *x) { return PyObject_TypeCheck(x, handle_type); }

/* The handle of new node i (whose one reference it takes over): a new object of class
 * `into` (a type) or the handle `into` itself, which lets go of its old node, if any.
 * On failure node i is released and NULL returned, with an exception set. */
static PyObject *adopt(PyObject *into, int32_t i)
{
    PyObject *h;
    int is_class = PyType_Check(into);
    if (!(is_class ? PyType_IsSubtype((PyTypeObject *)into, handle_type) : is_handle(into))) {
        mg_release(arena, &i, 1);
        PyErr_Format(PyExc_TypeError, "a node goes to a Value or a Value class, not %R", into);
        return NULL;
    }
    if (table_fit(i) < 0) {
        mg_release(arena, &i, 1);
        return NULL;
    }
    if (is_class) {
        allocfunc alloc = (allocfunc)PyType_GetSlot((PyTypeObject *)into, Py_tp_alloc);
        h = alloc((PyTypeObject *)into, 0);
        if (!h) {
            mg_release(arena, &i, 1);
            return NULL;
        }
    } else {
        h = into;
        Py_INCREF(h);
        if (((mg_handle *)h)->i >= 0)
            let_go(h, ((mg_handle *)h)->i);
    }
    ((mg_handle *)h)->i = i;
    table[i] = h;
    return h;
}

/* what a builder returns for the node made as `out` (>= 0, or minus a status), into
 * `into`: its handle; a 1-tuple of it if the node has MG_PYTHON (Python makes it keep
 * what holds that code); minus the status as an int, if it failed (Python raises) */
static PyObject *made(PyObject *into, int32_t out)
{
    if (out < 0)
        return PyLong_FromLong(out);
    PyObject *h = adopt(into, out & MG_INDEX_MASK);
    if (!h || !(out & MG_PYTHON_INDEX))
        return h;
    PyObject *t = PyTuple_New(1);
    if (!t) {
        Py_DECREF(h);
        return NULL;
    }
    PyTuple_SetItem(t, 0, h);
    return t;
}

static int32_t node_of(PyObject *x)
{
    if (is_handle(x))
        return ((mg_handle *)x)->i;
    long i = PyLong_AsLong(x);
    if (i == -1 && PyErr_Occurred())
        return INT32_MIN;
    return i < INT32_MIN + 1 || i > INT32_MAX ? -1 : (int32_t)i;
}

/* push(op, a, b, arg, is_int): the Value of mg_push(op, a, b, arg, is_int), a and b
 * handles (b may be an index: MG_CONST, -1); if out of memory, once more after the
 * queued deaths are released. A new node with MG_PYTHON keeps (a, b) (or (a,)), which
 * hold that code. Errors: on_error raises Python's exception. The hot path of every op. */
static PyObject *push(PyObject *module, PyObject *args)
{
    (void)module;
    if (PyTuple_Size(args) != 5)
        return PyErr_Format(PyExc_TypeError, "push() takes 5 arguments");
    PyObject *a = PyTuple_GetItem(args, 1), *b = PyTuple_GetItem(args, 2);
    long op = PyLong_AsLong(PyTuple_GetItem(args, 0));
    double arg = PyFloat_AsDouble(PyTuple_GetItem(args, 3));
    int is_int = PyObject_IsTrue(PyTuple_GetItem(args, 4));
    int32_t rhs = node_of(b);
    if (!is_handle(a))
        return PyErr_Format(PyExc_TypeError, "push() needs a Value, not %R", a);
    if (PyErr_Occurred() || is_int < 0)
        return NULL;
    int32_t lhs = ((mg_handle *)a)->i;
    int32_t out = mg_push(arena, (int)op, lhs, rhs, arg, is_int);
    if (out == -MG_ENOMEM && release_queued() == MG_OK)
        out = mg_push(arena, (int)op, lhs, rhs, arg, is_int);
    if (out < 0) {
        PyObject *r = PyObject_CallFunction(on_error, "iliidi", (int)-out, op, (int)lhs,
                                            (int)rhs, arg, is_int);
        Py_XDECREF(r);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "push() failed");
        return NULL;
    }
    PyObject *h = adopt(value_type, out & MG_INDEX_MASK);
    if (!h || !(out & MG_PYTHON_INDEX))
        return h;
    PyObject *keep = is_handle(b) ? PyTuple_Pack(2, a, b) : PyTuple_Pack(1, a);
    if (!keep || PyObject_SetAttr(h, keep_name, keep) < 0) {
        Py_XDECREF(keep);
        Py_DECREF(h);               /* its death releases the node */
        return NULL;
    }
    Py_DECREF(keep);
    return h;
}

/* The other builders: a C function of mg.h and its arguments (arrays as addresses,
 * int(ffi.cast("uintptr_t", array)), 0 for NULL), retried once after the queued
 * deaths are released if out of memory; into: a class, or a handle to give the node to.
 * They return what `made` says. */
#define ARRAY(type, address) ((const type *)(uintptr_t)(address))
#define RETRY(call) do { out = (call); \
    if (out == -MG_ENOMEM && release_queued() == MG_OK) out = (call); } while (0)

static PyObject *leaf(PyObject *module, PyObject *args)        /* (into, x, is_int) */
{
    (void)module;
    PyObject *into;
    double x;
    int is_int, out;
    if (!PyArg_ParseTuple(args, "Odp", &into, &x, &is_int))
        return NULL;
    RETRY(mg_push(arena, MG_LEAF, -1, -1, x, is_int));
    return made(into, out);
}

static PyObject *dot(PyObject *module, PyObject *args)  /* (start, w, x, c, n, fused) */
{
    (void)module;
    PyObject *start;
    unsigned long long w, x, c;
    int n, fused, out;
    if (!PyArg_ParseTuple(args, "OKKKii", &start, &w, &x, &c, &n, &fused))
        return NULL;
    int32_t s = node_of(start);
    if (PyErr_Occurred())
        return NULL;
    RETRY(mg_dot(arena, s, ARRAY(int32_t, w), ARRAY(int32_t, x), ARRAY(double, c), n, fused));
    return made(value_type, out);
}

static PyObject *push_n(PyObject *module, PyObject *args)       /* (op, kids, n) */
{
    (void)module;
    unsigned long long kids;
    int op, n, out;
    if (!PyArg_ParseTuple(args, "iKi", &op, &kids, &n))
        return NULL;
    RETRY(mg_push_n(arena, op, ARRAY(int32_t, kids), n));
    return made(value_type, out);
}

static PyObject *push_py(PyObject *module, PyObject *args)  /* (into, kids, n, x, is_int) */
{
    (void)module;
    PyObject *into;
    unsigned long long kids;
    int n, is_int, out;
    double x;
    if (!PyArg_ParseTuple(args, "OKidp", &into, &kids, &n, &x, &is_int))
        return NULL;
    RETRY(mg_push_py(arena, ARRAY(int32_t, kids), n, x, is_int));
    return made(into, out);
}

/* leaves(values, is_int, n): a list of the Values of n new leaves in consecutive nodes;
 * minus a status as an int if the arena cannot make them */
static PyObject *leaves(PyObject *module, PyObject *args)
{
    (void)module;
    unsigned long long values, flags;
    int n, out;
    if (!PyArg_ParseTuple(args, "KKi", &values, &flags, &n))
        return NULL;
    PyObject *list = PyList_New(n > 0 ? n : 0);
    if (!list)
        return NULL;
    RETRY(mg_leaves(arena, ARRAY(double, values), ARRAY(uint8_t, flags), n));
    if (out < 0) {
        Py_DECREF(list);
        return PyLong_FromLong(out);
    }
    for (int k = 0; k < n; k++) {
        PyObject *h = adopt(value_type, out + k);
        if (!h) {               /* the rest have no handle yet: release them too */
            for (int j = k + 1; j < n; j++) {
                int32_t i = out + j;
                mg_release(arena, &i, 1);
            }
            Py_DECREF(list);    /* the handles made release theirs */
            return NULL;
        }
        PyList_SetItem(list, k, h);
    }
    return list;
}

/* the live handle of node i, or NULL: one being deallocated (its count is 0: during the
 * weak reference callbacks of its death, or clearing its __dict__) is not handed out */
static PyObject *live(int32_t i)
{
    PyObject *h = i >= 0 && i < table_len ? table[i] : NULL;
    return h && Py_REFCNT(h) > 0 ? h : NULL;
}

/* value_of(i, keep): node i's live Value, or a new one with its own reference, which
 * keeps `keep` (unless None): one handle per node, whichever thread asks */
static PyObject *value_of(PyObject *module, PyObject *args)
{
    (void)module;
    int i;
    PyObject *keep;
    if (!PyArg_ParseTuple(args, "iO", &i, &keep))
        return NULL;
    PyObject *h = live(i);
    if (h) {
        Py_INCREF(h);
        return h;
    }
    int status = mg_retain(arena, i);
    if (status != MG_OK)
        return PyLong_FromLong(-status);
    h = adopt(value_type, i);
    if (h && keep != Py_None && PyObject_SetAttr(h, keep_name, keep) < 0)
        Py_CLEAR(h);
    return h;
}

static PyObject *handle_at(PyObject *module, PyObject *arg)   /* node i's Value or None */
{
    (void)module;
    long i = PyLong_AsLong(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    PyObject *h = i <= INT32_MAX ? live((int32_t)i) : NULL;
    h = h ? h : Py_None;
    Py_INCREF(h);
    return h;
}

static PyObject *release(PyObject *module, PyObject *unused)  /* the queued deaths: a status */
{
    (void)module, (void)unused;
    return PyLong_FromLong(release_queued());
}

static PyObject *pending(PyObject *module, PyObject *unused)   /* deaths not yet released */
{
    (void)module, (void)unused;
    return PyLong_FromLong(queued);
}

/* init(Value, on_error, write): the class ops make, the function that raises their
 * errors, and the one that writes data or grad from other numbers */
static PyObject *init(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *cls, *raise, *writer;
    if (!PyArg_ParseTuple(args, "OOO", &cls, &raise, &writer))
        return NULL;
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, handle_type))
        return PyErr_Format(PyExc_TypeError, "init() needs a subclass of Handle");
    Py_INCREF(cls);
    Py_INCREF(raise);
    Py_INCREF(writer);
    Py_XDECREF(value_type);
    Py_XDECREF(on_error);
    Py_XDECREF(on_write);
    value_type = cls;
    on_error = raise;
    on_write = writer;
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- the type */

static PyObject *handle_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args, (void)kwds;
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    PyObject *h = alloc(type, 0);
    if (h)
        ((mg_handle *)h)->i = -1;       /* no node until one is given (Value.__init__) */
    return h;
}

/* v.data, v.grad (field: MG_DATA, MG_GRAD): read as micrograd holds them (an int where
 * micrograd's would be an int; NaN without a node, as mg_value); written from a float or
 * an int here, and from anything else by Python's rules (on_write: _core._write), which
 * also raises for a failed write (no node) */
static PyObject *get_field(PyObject *self, void *field)
{
    mg_number n;
    if (mg_get(arena, ((mg_handle *)self)->i, (int)(intptr_t)field, &n) != MG_OK)
        n.value = NAN, n.is_int = 0;
    if (n.is_int && isfinite(n.value) && floor(n.value) == n.value)
        return PyLong_FromDouble(n.value);
    return PyFloat_FromDouble(n.value);
}

static int set_field(PyObject *self, PyObject *x, void *field)
{
    int32_t i = ((mg_handle *)self)->i;
    if (!x) {
        PyErr_SetString(PyExc_AttributeError, "a Value's data and grad cannot be deleted");
        return -1;
    }
    if (PyFloat_CheckExact(x) && mg_set(arena, i, (int)(intptr_t)field,
                                        PyFloat_AsDouble(x), 0) == MG_OK)
        return 0;
    if (PyLong_CheckExact(x)) {
        double value = PyLong_AsDouble(x);
        if (value == -1.0 && PyErr_Occurred())
            return -1;                  /* too large for a float: OverflowError */
        if (mg_set(arena, i, (int)(intptr_t)field, value, 1) == MG_OK)
            return 0;
    }
    PyObject *r = PyObject_CallFunction(on_write, "iiO", (int)i, (int)(intptr_t)field, x);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static PyGetSetDef handle_fields[] = {
    {"data", get_field, set_field, "the node's data", (void *)(intptr_t)MG_DATA},
    {"grad", get_field, set_field, "the node's grad", (void *)(intptr_t)MG_GRAD},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef handle_members[] = {
    {"_i", T_INT, offsetof(mg_handle, i), READONLY, "the node's index in the arena"},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot handle_slots[] = {
    {Py_tp_doc, "A node of micrograd's arena, held by a Python object (csrc/handle.c)."},
    {Py_tp_new, handle_new},
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_members, handle_members},
    {Py_tp_getset, handle_fields},
    {0, NULL},
};

static PyType_Spec handle_spec = {
    "micrograd._mg.Handle", sizeof(mg_handle), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    handle_slots,
};

static PyMethodDef functions[] = {
    {"handle_push", push, METH_VARARGS, NULL},
    {"handle_leaf", leaf, METH_VARARGS, NULL},
    {"handle_dot", dot, METH_VARARGS, NULL},
    {"handle_push_n", push_n, METH_VARARGS, NULL},
    {"handle_push_py", push_py, METH_VARARGS, NULL},
    {"handle_leaves", leaves, METH_VARARGS, NULL},
    {"handle_value_of", value_of, METH_VARARGS, NULL},
    {"handle_at", handle_at, METH_O, NULL},
    {"handle_release", release, METH_NOARGS, NULL},
    {"handle_pending", pending, METH_NOARGS, NULL},
    {"handle_init", init, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

/* Called once through cffi (micrograd/_handles.py): puts Handle and the functions above
 * into the module micrograd._mg. Takes the GIL itself (cffi may have released it). */
int mg_handle_install(mg_arena *a)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    int status = MG_ENOMEM;
    PyObject *module = PyImport_AddModule("micrograd._mg");    /* borrowed */
    if (!handle_type) {         /* (micrograd imported again: the same type, the same arena) */
        arena = a;
        keep_name = PyUnicode_InternFromString("_keep");
        handle_type = keep_name ? (PyTypeObject *)PyType_FromSpec(&handle_spec) : NULL;
    }
    if (!module || !handle_type || a != arena
        || PyObject_SetAttrString(module, "Handle", (PyObject *)handle_type) < 0)
        goto done;
    for (PyMethodDef *f = functions; f->ml_name; f++) {
        PyObject *fn = PyCFunction_NewEx(f, NULL, NULL);
        if (!fn || PyObject_SetAttrString(module, f->ml_name, fn) < 0) {
            Py_XDECREF(fn);
            goto done;
        }
        Py_DECREF(fn);
    }
    status = MG_OK;
done:
    if (status != MG_OK)
        PyErr_Clear();
    PyGILState_Release(gil);
    return status;
}
