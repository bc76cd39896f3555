"""`python -m tinygrad_mnist`: the same as the `tinygrad-mnist` command."""

import sys

from tinygrad_mnist.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
