"""`assert:` conditions on any target: their syntax (`conditions`), the JSONPath subset
of JSON body paths (`jsonpath`), and judging them against what a check saw (`judge`)."""

from wac.assertions.conditions import (
    Condition,
    ConditionError,
    check_applies,
    parse_condition,
    parse_conditions,
)
from wac.assertions.judge import Observed, judge

__all__ = [
    "Condition",
    "ConditionError",
    "Observed",
    "check_applies",
    "judge",
    "parse_condition",
    "parse_conditions",
]
