"""python -m micrograd.bench: see micrograd/bench/__init__.py, or --help."""
import sys

from micrograd.bench.cli import main

sys.exit(main())
