/* mg.c: what the engine of mg.h says about itself: the ABI version, status messages,
 * and each op's label, arity and kind (from ops.def, through ops.h), for Python.
 */
#include <stdint.h>
#include "mg.h"
#include "ops.h"

static const char *const messages[] = {
    "ok",
    "out of memory",
    "no such node",
    "0.0 cannot be raised to a negative power",
    "math range error",
    "math domain error",
    "negative number cannot be raised to a fractional power",
    "unknown op",
    "an op defined in Python",
    "index is not an integer",
    "index out of range",
};
_Static_assert(sizeof messages / sizeof *messages == MG_STATUS_COUNT, "one message per status");

int mg_abi_version(void) { return MG_ABI_VERSION; }

const char *mg_strerror(int status)
{
    return status >= 0 && status < MG_STATUS_COUNT ? messages[status] : "unknown error";
}

static int known(int op) { return op >= 0 && op < MG_OP_COUNT; }

const char *mg_op_name(int op) { return known(op) ? op_names[op] : "?"; }
int mg_op_arity(int op) { return known(op) ? arity[op] : -2; }
int mg_op_kind(int op) { return known(op) ? kinds[op] : -1; }
