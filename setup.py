"""The build of the C engine (cffi) and the wheel's tag.

cffi builds micrograd._mg for Python's limited API (one `_mg.abi3.so` for every
CPython 3.9+), so the wheel is tagged cp39-abi3 as it is built, not cp3X-cp3X.
"""
import platform

from setuptools import setup

ABI3 = platform.python_implementation() == "CPython"

setup(
    cffi_modules=["micrograd/_build.py:ffibuilder"],
    options={"bdist_wheel": {"py_limited_api": "cp39"}} if ABI3 else {},
)
