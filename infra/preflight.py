"""`python -m infra.preflight`: the command's name; its code is infra/checks/preflight.py."""

import sys

from infra.checks.preflight import main

if __name__ == "__main__":
    sys.exit(main())
