"""`python -m infra.smoke`: the command's name; its code is infra/checks/smoke.py."""

import sys

from infra.checks.smoke import main

if __name__ == "__main__":
    sys.exit(main())
