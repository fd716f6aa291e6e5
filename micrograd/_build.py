"""The cffi builder of micrograd._mg, compiled by setuptools (setup.py's cffi_modules).

The declarations come from csrc/mg.h itself, so C and Python cannot disagree
about a signature. This module is only used at build time.
"""
import json
import os
import re
import sys

from cffi import FFI

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, "csrc")


def cdef_from_header(path):
    """The header without preprocessor lines, except `#define NAME <int>`."""
    keep = []
    for line in open(path, encoding="utf-8"):
        if line.lstrip().startswith("#") and not re.match(r"\s*#define\s+\w+\s+-?\d+\s*$", line):
            continue
        keep.append(line)
    return "".join(keep)


def compile_args():
    if sys.platform == "win32":
        return ["/O2", "/W3", "/fp:precise"]
    # -ffp-contract=off: no fused multiply-add, so results are bit-identical to Python's
    args = ["-std=c11", "-O2", "-Wall", "-Wextra", "-ffp-contract=off", "-fno-fast-math"]
    return args + os.environ.get("MG_CFLAGS", "").split()


ffibuilder = FFI()
ffibuilder.cdef(cdef_from_header(os.path.join(CSRC, "mg.h")))
# cffi releases the GIL and saves errno around every call. Our calls are a few
# nanoseconds of C, and releasing and re-taking the GIL costs more than that, so
# the wrappers keep it (these macros wrap each call in the generated _mg.c). The
# GIL then serialises calls into the arena; the arena's own lock stays as the
# guarantee, uncontended. benchmarks/bench_gil.py measures both choices.
KEEP_GIL = """
#undef Py_BEGIN_ALLOW_THREADS
#define Py_BEGIN_ALLOW_THREADS {
#undef Py_END_ALLOW_THREADS
#define Py_END_ALLOW_THREADS }
#undef _cffi_restore_errno
#define _cffi_restore_errno() ((void)0)
#undef _cffi_save_errno
#define _cffi_save_errno() ((void)0)
"""

# How this build was compiled, for `python -m micrograd` (micrograd/doctor.py).
BUILD_INFO = """
#define MG_STR_(x) #x
#define MG_STR(x) MG_STR_(x)
static const char *mg_build_info(void)
{
    return
#if defined(__clang__)
        "clang " __clang_version__
#elif defined(__GNUC__)
        "gcc " __VERSION__
#elif defined(_MSC_VER)
        "MSVC " MG_STR(_MSC_FULL_VER)
#else
        "an unknown compiler"
#endif
        ", flags: " %s;
}
""" % json.dumps(" ".join(compile_args()))
ffibuilder.cdef("const char *mg_build_info(void);")

# A Batch's runs take milliseconds on threads of their own: these wrappers of mg.h's
# let Python's other threads run meanwhile (the arena has its own lock).
NO_GIL = """
static int mg_batch_forward_nogil(mg_batch *b, const double *x, const uint8_t *x_int,
                                  int64_t rows, int threads, double *out, int32_t *bad_node,
                                  int64_t *bad_row, mg_number *bad_args)
{
    PyThreadState *saved = PyEval_SaveThread();
    int status = mg_batch_forward(b, x, x_int, rows, threads, out, bad_node, bad_row, bad_args);
    PyEval_RestoreThread(saved);
    return status;
}
static int mg_batch_backward_nogil(mg_batch *b, int mean, int threads)
{
    PyThreadState *saved = PyEval_SaveThread();
    int status = mg_batch_backward(b, mean, threads);
    PyEval_RestoreThread(saved);
    return status;
}
"""
ffibuilder.cdef("""
int mg_batch_forward_nogil(mg_batch *b, const double *x, const uint8_t *x_int, int64_t rows,
                           int threads, double *out, int32_t *bad_node, int64_t *bad_row,
                           mg_number *bad_args);
int mg_batch_backward_nogil(mg_batch *b, int mean, int threads);
""")

ffibuilder.set_source(
    "micrograd._mg",
    '#include "mg.h"\n' + ("" if os.environ.get("MG_RELEASE_GIL") else KEEP_GIL) + BUILD_INFO
    + NO_GIL,
    sources=sorted(os.path.join("csrc", f) for f in os.listdir(CSRC) if f.endswith(".c")),
    include_dirs=[CSRC],
    extra_compile_args=compile_args(),
    extra_link_args=os.environ.get("MG_LDFLAGS", "").split(),
    libraries=[] if sys.platform == "win32" else ["m", "pthread"],
)

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=ROOT, verbose=True)
