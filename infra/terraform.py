"""`python -m infra.terraform`: the command's name; its code is infra/checks/terraform.py."""

import sys

from infra.checks.terraform import main

if __name__ == "__main__":
    sys.exit(main())
