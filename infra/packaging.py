"""`python -m infra.packaging <function>`: the command's name; its code is infra/build/packaging.py."""

import sys

from infra.build.packaging import main

if __name__ == "__main__":
    sys.exit(main())
