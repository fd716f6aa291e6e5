/* lanes_avx2.c: the lane kernels compiled for avx2 (lanes.h); batch.c picks them when
 * the CPU has it. The target adds vector registers, never FMA (-ffp-contract=off). */
#include "batch.h"
#if defined(MG_X86_CLONES)
#pragma GCC target("avx2")
#define TARGET avx2
#include "lanes.h"
#endif
