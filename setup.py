from setuptools import setup

setup(cffi_modules=["micrograd/_build.py:ffibuilder"])
