"""Checks of a stack: offline over the program under mocks (plan, policies, pricing, terraform),
against the account before `pulumi up` (preflight) and against a deployed stack (smoke)."""
