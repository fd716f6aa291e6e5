"""python -m micrograd.demo [moons|digits] [options]: the example named first (moons if
none is), with the rest of the command line as its options. Not a plugin registry."""
import importlib
import sys

from micrograd.demo import cli

EXAMPLES = ("moons", "digits")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    name = argv.pop(0) if argv and argv[0] in EXAMPLES else EXAMPLES[0]
    return importlib.import_module(f"micrograd.demo.{name}").main(argv)


if __name__ == "__main__":
    cli.run(main)
