/* batch.h: a Batch's layout, shared by its making (batch_graph.c), its run (batch.c)
 * and the lane kernels (lanes.h, compiled once per CPU target by lanes_*.c).
 *
 * A Batch runs one example's graph over B rows at once. Its nodes are a copy of the
 * graph's, in root's kept order (plan.c), leaves first: every node is either laned
 * (it depends on an input: one number per row, its B lanes contiguous) or shared (it
 * depends on no input: one number, computed once per forward). The parameters are
 * shared leaves: read from the arena at each forward, never copied per row.
 * Internal, as arena.h.
 */
#ifndef MG_BATCH_H
#define MG_BATCH_H
#include <stdint.h>
#include "arena.h"

/* Rows are run in chunks of CHUNK, each chunk by one thread, and a shared node's grad
 * is summed over a chunk's rows in a fixed order, then over the chunks in order: the
 * same bits for any number of threads. ROWS: the rows of a vector register tile. */
#define CHUNK 64
#define ROWS 8
/* neurons of a tile: dots over the same inputs, run together (lanes.h) */
#define TILE 4

typedef struct {
    uint8_t op;             /* an mg_op */
    uint8_t laned;          /* 1: B lanes; 0: shared, one number */
    uint8_t may_int;        /* laned, this forward: whether a lane may hold a Python int
                               (a shared node's flag is known: sint, holds_int) */
    uint8_t arg_int;
    uint8_t single;         /* its only reference is its one parent's (no Value holds it) */
    uint8_t fused;          /* a node of a chain of + and * that a dot replaced: not run */
    int8_t tile;            /* a dot: how many dots a tile starting here has (1..TILE);
                               -1: a later dot of a tile; 0: not in a tile */
    uint8_t ints;           /* a tile, this forward: one of its weights is a Python int */
    int32_t node;           /* the arena's node */
    int32_t slot;           /* laned: its lane row; shared: its index in sdata */
    int32_t gslot;          /* shared, an operand of laned nodes outside tiles: its index
                               in a chunk's pgrad; -1 otherwise */
    int32_t k0, nk;         /* operands: kids[k0 .. k0 + nk), as the op's children; a
                               tiled dot's pairs are (shared weight, laned input) */
    int64_t wat;            /* a tile's first dot: its weights in wpack and wgrad,
                               [p][q] for TILE dots q (the unused ones are never read) */
    int64_t xat;            /* a tile's first dot: its inputs' lane rows in xslot */
    int32_t kat;            /* a tile's first dot: its dots' place in kdot, kslot, kw */
    double arg;
} bnode;

typedef struct mg_batch {
    mg_arena *a;
    int32_t n, leaves, inputs, root, laned, shared, gslots;   /* leaves: nodes[0..leaves) */
    int64_t tiled;          /* weights in tiles (TILE rows each) */
    bnode *nodes;           /* children first; leaves before the first non-leaf */
    int32_t *kids;          /* operands, by local index */
    int64_t nkids;
    int32_t *input;         /* the inputs' local indices, in column order */
    int32_t *xslot;         /* tiles' inputs, as lane rows */
    int32_t *wslot;         /* tiles' weights, as shared slots ([p][q], -1: no dot q) */
    int32_t *kdot, *kslot;  /* every tiled dot, in step order: its local index, lane row */
    int64_t *kw;            /* and its weights in wpack: [kw + p * TILE] */
    int32_t *pnode;         /* the shared leaves' nodes: shared leaf k has slot k */
    int32_t *gshared;       /* gslot g's shared slot */
    int32_t held;           /* root, whose node the batch holds a reference to */
    int32_t *by_node;       /* (node, local index) pairs sorted by node, lookups of them */
    int32_t lookups;
    /* the walks, as lists of local indices (children first): the laned non-leaves to run
     * (a tile by its first dot), the shared non-leaves and every laned node; the shared
     * leaves (the parameters) are the nparams first shared slots (pnode: their nodes) */
    int32_t *steps, *ops, *lanes;
    int32_t nsteps, nops, nparams;
    int64_t work;           /* multiply-adds of one row, about: the laned nodes' operands */
    /* the run: rows rows of lanes, cap apart (whole chunks, and ROWS more: batch.c) */
    int64_t rows, cap, chunks;
    double *ldata, *lgrad;  /* laned node l, row b: [l * cap + b] */
    uint8_t *lint;          /* whether that lane holds a Python int (read if may_int) */
    double *sdata, *sgrad;  /* shared: one number each; sgrad: summed over every row */
    uint8_t *sint;
    double *wpack;          /* tiles' weights, copied at each forward, [p][q] */
    double *xpack;          /* per thread: a tile's inputs over a chunk, packed */
    size_t xpacked;         /* its doubles */
    int32_t most;           /* the most inputs of a tile */
    double *pgrad;          /* per chunk: each shared node's grad summed over its rows,
                               [chunk * gslots + gslot] */
    double *wgrad;          /* per chunk: each tiled weight's grad, [chunk * tiled + k] */
    int state;              /* 0: no forward; 1: forward done; 2: backward done too */
    int mean;               /* the last backward's reduction: the mean (else the sum) */
    mg_lock lock;
} mg_batch;

/* whether node j may hold a Python int: on some row (laned), or now (shared) */
static inline int holds_int(const mg_batch *b, int32_t j)
{
    const bnode *n = &b->nodes[j];
    return n->laned ? n->may_int : b->sint[n->slot];
}

/* where one chunk's run failed: the node (local index), its row and status */
typedef struct {
    int status;
    int32_t at;
    int64_t row;
} lane_fail;

/* one CPU target's kernels (lanes.h): a chunk's forward over the laned nodes, its
 * backward, and the shared nodes' forward and backward (one lane, no rows) */
typedef struct {
    const char *name;
    lane_fail (*forward)(mg_batch *b, int64_t b0, int64_t b1, double *scratch);
    void (*backward)(mg_batch *b, int64_t chunk, int64_t b0, int64_t b1);
    lane_fail (*shared_forward)(mg_batch *b);
    void (*shared_backward)(mg_batch *b);
} lane_kernels;

/* batch.c: the kernels of this CPU (or MG_KERNELS's), chosen once; batch_graph.c: node
 * i's local index, -1 if it is not in the graph, -2 if it is not run (fused) */
INTERNAL const lane_kernels *kernels(void);
INTERNAL int32_t local_of(const mg_batch *b, int32_t i);

INTERNAL extern const lane_kernels lanes_baseline;
#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
#define MG_X86_CLONES 1
INTERNAL extern const lane_kernels lanes_avx2;
INTERNAL extern const lane_kernels lanes_avx512;
#endif


#endif
