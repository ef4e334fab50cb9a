"""`python -m infra.plan`: the command's name; its code is infra/checks/plan.py."""

import sys

from infra.checks.plan import main

if __name__ == "__main__":
    sys.exit(main())
