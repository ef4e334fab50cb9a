"""Security rules, checked over a stack's whole resource graph (every resource the program registers).

Each rule is a function from the graph to violations; `evaluate` runs them all. A stack may waive a
rule only with a written reason (config `security_waivers`), and the plan prints it next to the rule.
Rules live by area in data.py, compute.py, edge.py and cost.py; importing them registers them in RULES.
"""

from infra.checks.policies import compute, cost, data, edge  # noqa: F401  (registers the rules)
from infra.checks.policies._base import RULES, Context, Rule, Verdict, Violation, evaluate

__all__ = ["RULES", "Context", "Rule", "Verdict", "Violation", "evaluate"]
