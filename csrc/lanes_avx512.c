/* lanes_avx512.c: the lane kernels compiled for avx512 (lanes.h); batch.c picks them when
 * the CPU has it. The target adds vector registers, never FMA (-ffp-contract=off). */
#include "batch.h"
#if defined(MG_X86_CLONES)
#pragma GCC target("avx512f")
#define TARGET avx512
#include "lanes.h"
#endif
