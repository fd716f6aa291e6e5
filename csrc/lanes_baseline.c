/* lanes_baseline.c: the lane kernels for the wheel's baseline CPU (x86-64: SSE2), and
 * for every CPU where the compiler has no clones (lanes.h, batch.h's MG_X86_CLONES) */
#define TARGET baseline
#include "lanes.h"
