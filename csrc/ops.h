/* ops.h: the tables generated from ops.def (labels, arities, kinds), pinned to mg.h.
 *
 * Internal, as arena.h. The tables are static: each C file has its own few bytes,
 * read without a relocation in the hot loops. The dispatch on an op is eval.h's.
 */
#ifndef MG_OPS_H
#define MG_OPS_H
#include <stdint.h>
#include "mg.h"

#define NARY -1     /* an arity: children in the edges array, any number of them */

/* mg.h writes the enum out (cffi cannot expand ops.def): each row must sit at its
 * enum's value and every op must have a row, so an op cannot be half-added */
enum {
#define OP(name, label, arity, kind, rule) ROW_##name,
#include "ops.def"
#undef OP
    ROW_COUNT
};
#define OP(name, label, arity, kind, rule) \
    _Static_assert((int)ROW_##name == (int)name, "ops.def: " #name " is not at its mg.h value");
#include "ops.def"
#undef OP
_Static_assert((int)ROW_COUNT == (int)MG_OP_COUNT, "ops.def: one row for each op of mg.h's mg_op");

static const char *const op_names[] = {
#define OP(name, label, arity, kind, rule) label,
#include "ops.def"
#undef OP
};

static const int8_t arity[] = {
#define OP(name, label, arity, kind, rule) arity,
#include "ops.def"
#undef OP
};

static const uint8_t kinds[] = {
#define OP(name, label, arity, kind, rule) MG_KIND_##kind,
#include "ops.def"
#undef OP
};

#endif
