/* mg.h: the C API of the micrograd engine, and the only source of the cffi cdef.
 *
 * Declarations only: enums, opaque types, plain structs, prototypes and integer
 * #defines (cffi's cdef parses nothing else; micrograd/_build.py drops the other
 * '#' lines). It is not a general tensor library: every node is one scalar.
 *
 * Ownership: an mg_arena is created by mg_arena_new and freed by mg_arena_free
 * (Python's one arena is never freed: Values may outlive the module at exit).
 * Node indices are int32; a node lives while its reference count (Python handles
 * + parent nodes) is positive.
 * Threads: every function takes the arena's lock, so concurrent calls are safe.
 */
#ifndef MG_H
#define MG_H
#define MG_ABI_VERSION 6

typedef enum {
    MG_OK = 0, MG_ENOMEM, MG_EINDEX, MG_EZERODIV, MG_ERANGE, MG_EDOMAIN, MG_ECOMPLEX,
    MG_EOP,
    MG_EPYTHON,           /* the graph has a node whose rule is Python code (see MG_PYTHON) */
    MG_ENOTINT,           /* MG_PICK's index is not a whole number (1.5, nan, inf): TypeError */
    MG_EBOUNDS,           /* MG_PICK's index is outside -k..k-1 for k values: IndexError */
    MG_STATUS_COUNT
} mg_status;

typedef enum {            /* the rows of csrc/ops.def, in order (ops.h asserts it) */
    MG_LEAF = 0, MG_ADD, MG_MUL, MG_POW, MG_RELU, MG_TANH, MG_EXP, MG_LOG,
    MG_SIGMOID,
    MG_POWV,              /* x ** y with y a node (a Value exponent); MG_POW's y is arg */
    MG_DOT,               /* n-ary: children start, w0, x0, w1, x1, ... (edges array) */
    MG_LSE,               /* n-ary: log(sum(exp(x))), shifted by the largest x */
    MG_PICK,              /* n-ary: children t, x0, x1, ...: x[t], t a node (labels as data) */
    MG_PY,                /* n-ary, any number of children: an op defined in Python
                             (micrograd's Value(data, children, op)); data given, no rule */
    MG_OP_COUNT
} mg_op;

typedef enum {            /* how Python prints an op's node in an error message */
    MG_KIND_LEAF = 0,
    MG_KIND_INFIX,        /* x op y: MG_ADD, MG_MUL, MG_POW, MG_POWV */
    MG_KIND_CALL,         /* name(x): relu, tanh, exp, log, sigmoid */
    MG_KIND_NARY,         /* dot, logsumexp, pick */
    MG_KIND_PYTHON,       /* MG_PY */
    MG_KIND_COUNT
} mg_kind;

typedef enum {            /* a field of mg_get/mg_set; the last two are flags, read and
                             written as the is_int of mg_number and mg_set */
    MG_DATA = 0, MG_GRAD, MG_ARG,
    MG_LABEL,             /* is_int: whether Python holds a label for this node */
    MG_PYSTATE            /* is_int: 1 sets MG_PYTHON on the node; 0 clears it on a leaf
                             (a leaf's is its rule's alone; a parent's is its children's too) */
} mg_field;

/* flag bits of a node: which numbers are Python ints in micrograd 0.1.0 */
#define MG_DATA_INT 1
#define MG_GRAD_INT 2
#define MG_ARG_INT 4
#define MG_HAS_LABEL 8
/* Python code belongs to this node or to one below it: an MG_PY node, a node whose
 * Python handle holds a backward rule written in Python (MG_PYSTATE), and every node
 * made from such nodes. mg_backward leaves such graphs to Python (MG_EPYTHON). */
#define MG_PYTHON 128

/* An index returned for a new node has this bit set when the node has MG_PYTHON
 * (index & MG_INDEX_MASK is the node): Python's handle of the new node must then
 * keep its operands' handles, which hold the Python code. Node indices stay below it. */
#define MG_PYTHON_INDEX 1073741824
#define MG_INDEX_MASK 1073741823

/* as rhs of mg_push: the right operand is a new leaf holding arg */
#define MG_CONST -2

typedef struct mg_arena mg_arena;   /* opaque: it holds a lock cffi cannot parse */

typedef struct {          /* one number read from a node, for Python */
    double value;
    int is_int;           /* 1 if micrograd 0.1.0 would hold a Python int here */
} mg_number;

typedef struct {
    int64_t live;         /* nodes in use */
    int64_t cap;          /* node slots allocated */
    int64_t bytes;        /* bytes the arena has allocated for its node slots */
    int64_t bytes_per_node;
    int64_t edges;        /* children of n-ary nodes, in use */
    int64_t edge_bytes;   /* bytes allocated for the edges array */
    int64_t plans;        /* kept orders (mg_forward) */
    int64_t plan_bytes;
} mg_stats;

int mg_abi_version(void);
const char *mg_strerror(int status);
const char *mg_op_name(int op);
int mg_op_arity(int op);   /* children of op: 0, 1 or 2, -1 for n-ary; -2 for an unknown op */
int mg_op_kind(int op);    /* an mg_kind; -1 for an unknown op */

/* arena ------------------------------------------------------------------ */
mg_arena *mg_arena_new(int32_t cap);           /* NULL when out of memory */
void mg_arena_free(mg_arena *a);
void mg_arena_stats(mg_arena *a, mg_stats *out);
int mg_arena_limit(mg_arena *a, int32_t max_cap);  /* growth past max_cap fails: MG_ENOMEM */

/* graph -------------------------------------------------------------------
 * mg_push computes the new node's data at once and returns its index (>= 0; with
 * MG_PYTHON_INDEX set if the node has MG_PYTHON, as every call below that makes a
 * node), or minus an mg_status, having changed nothing. For MG_LEAF, arg is the data;
 * for MG_POW, arg is the constant exponent. rhs == MG_CONST makes the right
 * operand a new leaf holding arg (`v * 2.0` in one call). The new node has one reference,
 * owned by the caller; it also holds one on each child. */
int32_t mg_push(mg_arena *a, int op, int32_t lhs, int32_t rhs, double arg, int arg_is_int);
/* sum((w[k] * x[k] for k in range(n)), start) as micrograd builds it: n products
 * and n sums, the same nodes and data. x == NULL: x[k] is a new leaf holding c[k].
 * Returns the last sum (start itself when n == 0), with one new reference for the
 * caller, or minus an mg_status (MG_EINDEX for a dead node, n < 0 or a missing
 * array), having changed nothing. */
int32_t mg_dot(mg_arena *a, int32_t start, const int32_t *w, const int32_t *x,
               const double *c, int32_t n, int fused);
/* fused: one MG_DOT node with children start, w[0], x[0], w[1], x[1], ...: the same
 * data as the n products and n sums, bit for bit, and the same grads. */
/* n new leaves in consecutive slots (a neuron's weights: their data and grads are then
 * contiguous, which the replay of MG_DOT uses), each with one reference for the
 * caller; returns the first index, or minus an mg_status, having changed nothing.
 * is_int == NULL: every value is a float. */
int32_t mg_leaves(mg_arena *a, const double *values, const uint8_t *is_int, int32_t n);
/* an n-ary node (MG_DOT, MG_LSE, MG_PICK) over kids[0..n): same contract as mg_push */
int32_t mg_push_n(mg_arena *a, int op, const int32_t *kids, int32_t n);
/* an MG_PY node over kids[0..n) (n >= 0) holding data: an op whose forward and backward
 * are Python code; same contract as mg_push (its index always has MG_PYTHON_INDEX) */
int32_t mg_push_py(mg_arena *a, const int32_t *kids, int32_t n, double data, int is_int);
int mg_retain(mg_arena *a, int32_t i);
int mg_release(mg_arena *a, const int32_t *idx, int32_t n);  /* one reference each; frees
                                              what is no longer referenced */

/* node i: read one field (and its int flag) or write one; op and children.
 * is_int (out->is_int for mg_get) is the flag itself for MG_LABEL and MG_PYSTATE. */
int mg_get(mg_arena *a, int32_t i, int field, mg_number *out);
/* the same reads without an out-pointer, for Python's hot path (p.data, p.grad):
 * NaN and 0 for an index that is not a live node */
double mg_value(mg_arena *a, int32_t i, int field);
int mg_is_int(mg_arena *a, int32_t i, int field);
int mg_set(mg_arena *a, int32_t i, int field, double value, int is_int);
int mg_node(mg_arena *a, int32_t i, int *op, int32_t *lhs, int32_t *rhs);  /* n-ary: -1, -1 */
/* node i's children (duplicates included, in order): writes min(count, cap) of them
 * to out and returns the count, or minus an mg_status */
int32_t mg_kids(mg_arena *a, int32_t i, int32_t *out, int32_t cap);
/* many nodes at once (MG_DATA or MG_GRAD): every index is checked before anything
 * is read or written. is_int == NULL: every value is a float. */
int mg_get_many(mg_arena *a, int field, const int32_t *idx, double *out, int32_t n);
int mg_set_many(mg_arena *a, int field, const int32_t *idx, const double *values,
                const uint8_t *is_int, int32_t n);

/* backward ----------------------------------------------------------------
 * Reverse topological order over the nodes reachable from root, without
 * recursion: root's grad becomes 1 (a leaf root adds 1), other non-leaf grads
 * restart from 0, leaves accumulate. MG_EPYTHON if root or a node below it has
 * MG_PYTHON, having run no rule (non-leaf grads may be 0 already): Python runs that
 * backward (mg_order below). */
int mg_backward(mg_arena *a, int32_t root);
/* node i's backward rule once, as micrograd's v._backward(): its current grad is
 * passed on to its children's grads (a leaf does nothing) */
int mg_backward_node(mg_arena *a, int32_t i);
/* backward over a graph with Python code (mg_backward said MG_EPYTHON), driven by
 * Python: mg_order resets the grads as mg_backward does and writes the topological
 * order (children first) to out, returning the node count n; if n > cap it changes
 * nothing (call again with room for n). mg_find writes the positions in order[0..n)
 * of the nodes idx[0..m) that occur there, highest first, and returns their count.
 * mg_backward_nodes runs the backward rules of order[n-1], ..., order[0]. */
int32_t mg_order(mg_arena *a, int32_t root, int32_t *out, int32_t cap);
int32_t mg_find(mg_arena *a, const int32_t *order, int32_t n, const int32_t *idx, int32_t m,
                int32_t *pos);
int mg_backward_nodes(mg_arena *a, const int32_t *order, int32_t n);

/* replay ------------------------------------------------------------------
 * Recompute the data of every node reachable from root from the current data of
 * the leaves, children before parents, with the forward rule of mg_push: the
 * same data and int flags as building the graph anew. The order is computed
 * once and kept until root's node is freed; mg_backward uses it too.
 * On failure (a status of the op, as mg_push would return), *failed is the
 * node that failed: nodes before it in the order hold new data, it and the
 * nodes after it keep their old data. */
int mg_forward(mg_arena *a, int32_t root, int32_t *failed);

/* Python's arena ------------------------------------------------------------
 * micrograd.engine keeps every Value in one arena, given once to mg_use. These are
 * its hot calls on that arena: mg_push, mg_value, mg_is_int, mg_set and mg_release
 * without the arena argument, which cffi is slow to convert (as much as the work of a
 * push: benchmarks/RESULTS.md). For micrograd.engine only: one arena per process.
 * Before mg_use: MG_EINDEX (push: its negative), NaN and 0. */
void mg_use(mg_arena *a);
int32_t mg_use_push(int op, int32_t lhs, int32_t rhs, double arg, int arg_is_int);
double mg_use_value(int32_t i, int field);
int mg_use_is_int(int32_t i, int field);
int mg_use_set(int32_t i, int field, double value, int is_int);
int mg_use_release(const int32_t *idx, int32_t n);

/* one call for a whole parameter list */
int mg_zero_grad(mg_arena *a, const int32_t *idx, int32_t n);

/* optimizers ---------------------------------------------------------------
 * torch.optim's SGD, Adam and AdamW over a fixed array of parameter nodes, one
 * call per step. An mg_optim holds the per-parameter state (SGD's momentum
 * buffer; Adam's exp_avg and exp_avg_sq) and the step count. Ownership:
 * mg_optim_new creates it, with its own copy of the indices; mg_optim_free frees
 * it (Python: ffi.gc on the optimizer object) and never touches the arena. It
 * holds no node references: the caller keeps the parameter nodes alive; a step
 * over a dead node is MG_EINDEX and changes nothing. lr is an argument of each
 * step, because users change it between steps. */
typedef enum { MG_SGD = 0, MG_ADAM, MG_ADAMW, MG_OPTIM_COUNT } mg_optim_kind;

typedef struct {          /* torch.optim's hyper-parameters, except lr */
    int kind;             /* an mg_optim_kind */
    double weight_decay;  /* every kind: L2 for SGD and Adam, decoupled for AdamW */
    double momentum, dampening;    /* SGD */
    int nesterov;
    double beta1, beta2, eps;      /* Adam, AdamW */
} mg_optim_config;

typedef struct mg_optim mg_optim;   /* opaque: holds its arena and its moments */

/* MG_ENOMEM, MG_EOP (unknown kind) or MG_EINDEX (n < 0; a, config or idx NULL) leave *out unset */
int mg_optim_new(mg_arena *a, const mg_optim_config *config, const int32_t *idx, int32_t n,
                 mg_optim **out);
void mg_optim_free(mg_optim *o);
int mg_optim_step(mg_optim *o, double lr);   /* data of every parameter, then step += 1;
                                                MG_ERANGE, changing nothing, at INT64_MAX steps */
int mg_optim_zero_grad(mg_optim *o);         /* grads to the int 0, as mg_zero_grad */
/* the state: n doubles in m (SGD's momentum buffer, Adam's exp_avg) and in v
 * (Adam's exp_avg_sq; SGD has none), and the steps taken. NULL: not copied.
 * MG_ERANGE for v given with SGD, or mg_optim_load given step < 0. */
int mg_optim_state(mg_optim *o, double *m, double *v, int64_t *step);
int mg_optim_load(mg_optim *o, const double *m, const double *v, int64_t step);

/* batch -------------------------------------------------------------------
 * One example's graph run over many rows (micrograd/batch.py). mg_batch_new copies
 * root's graph: the n inputs (leaves of it, in column order) get one number per row;
 * every other leaf is shared by all rows and read from the arena at each forward.
 * The batch holds a reference to root's node, released by mg_batch_free. MG_EINDEX with
 * *bad = k: input k is dead, not a leaf of root's graph, or given twice; MG_EPYTHON
 * with *bad = the node: Python code belongs to it (no C rule to run over rows).
 * Ownership: mg_batch_free frees it (Python: ffi.gc) and releases root.
 * Threads: each call takes the batch's lock; the arena's only to read the
 * parameters and to add their grads. */
typedef struct mg_batch mg_batch;   /* opaque: it holds a lock */
int mg_batch_new(mg_arena *a, int32_t root, const int32_t *inputs, int32_t n, mg_batch **out,
                 int32_t *bad);
void mg_batch_free(mg_batch *b);
/* x: rows x n numbers, row-major; x_int (NULL: all floats) whether each is a Python
 * int. Every node's data on row r is the data that
 * root's forward would give with the inputs' data set to row r; root's to out
 * (NULL: not copied). Up to threads threads: the same bits for any number. On an
 * op's failure, the status mg_forward would return, *bad_node the node, *bad_row
 * its row (-1: a node that depends on no input; rows run in chunks of 64, node after
 * node: the first failing node of the first chunk that fails, its first failing row)
 * and bad_args[0..2)
 * its operands there (its first two children's data, or its constant); nothing the
 * arena holds changes, ever. */
int mg_batch_forward(mg_batch *b, const double *x, const uint8_t *x_int, int64_t rows,
                     int threads, double *out, int32_t *bad_node, int64_t *bad_row,
                     mg_number *bad_args);
/* root's backward on every row of the last forward, summed over the rows (mean: and
 * divided by their count) into the grads of the shared leaves (+=, as mg_backward's
 * leaves); MG_EINDEX if no forward succeeded since the batch was made or grown */
int mg_batch_backward(mg_batch *b, int mean, int threads);
/* nodes idx[0..n) of the graph, their data (MG_DATA, of the last forward) or grads
 * (MG_GRAD, of the last backward: of the mean when it was one) on every row:
 * out[r * n + k] (out has room for rows x n: MG_ERANGE, writing nothing, if the last
 * forward had another number of rows); MG_EINDEX (*bad = k) for a node not in the batch, MG_EOP for one it
 * does not run (a node inside a sum of products that nothing else uses: a dot ran it) */
int mg_batch_read(mg_batch *b, int field, const int32_t *idx, int32_t n, int64_t rows,
                  double *out, int32_t *bad);
const char *mg_kernels(void);    /* the lane kernels in use: baseline, avx2 or avx512 */

/* handles (csrc/handle.c) ------------------------------------------------------
 * micrograd.engine's Value is a Python subclass of a C type, Handle, which holds one
 * node of the arena given here (Python's, as mg_use's). mg_handle_install puts Handle and
 * its functions into the module micrograd._mg, once; MG_ENOMEM if it cannot. A dead
 * handle's node is released with MG_HANDLE_BATCH others (or before memory is needed). */
#define MG_HANDLE_BATCH 256
int mg_handle_install(mg_arena *a);

#endif
