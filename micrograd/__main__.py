"""python -m micrograd: the doctor (micrograd/doctor.py) says which micrograd is loaded."""
import sys

from micrograd.doctor import main

sys.exit(main())
