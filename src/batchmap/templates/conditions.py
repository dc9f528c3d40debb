"""The ``Conditions`` section: named booleans from ``Fn::Equals``, ``Not``, ``And``, ``Or`` and ``Condition``.

Conditions are evaluated on first use and remembered; a condition that refers
to itself, directly or not, is an error naming the cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from batchmap.errors import TemplateError

Resolve = Callable[[Any, str], Any]


class Conditions:
    """Evaluates the template's named conditions with ``resolve`` for the operands of ``Fn::Equals``."""

    def __init__(self, declared: Mapping[str, Any], resolve: Resolve) -> None:
        if not isinstance(declared, Mapping):
            raise TemplateError("Conditions", f"expected a mapping of condition names, got {declared!r}")
        self._declared = declared
        self._resolve = resolve
        self._values: dict[str, bool] = {}
        self._evaluating: list[str] = []

    def is_true(self, name: Any, where: str) -> bool:
        """The value of condition ``name`` (``where`` names the place that asks, for errors)."""
        if not isinstance(name, str) or name not in self._declared:
            known = ", ".join(self._declared) or "none"
            raise TemplateError(where, f"unknown condition {name!r} (conditions: {known})")
        if name in self._values:
            return self._values[name]
        if name in self._evaluating:
            cycle = " -> ".join([*self._evaluating[self._evaluating.index(name):], name])
            raise TemplateError(f"Conditions.{name}", f"circular condition: {cycle}")
        self._evaluating.append(name)
        try:
            value = self.evaluate(self._declared[name], f"Conditions.{name}")
        finally:
            self._evaluating.pop()
        self._values[name] = value
        return value

    def evaluate(self, expression: Any, where: str) -> bool:
        """A condition expression: ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or``, ``Condition``."""
        if isinstance(expression, bool):
            return expression
        if not isinstance(expression, Mapping) or len(expression) != 1:
            raise TemplateError(where, "expected Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition, "
                                       f"got {expression!r}")
        (function, argument), = expression.items()
        if function == "Condition":
            return self.is_true(argument, where)
        if function == "Fn::Equals":
            return self._equals(argument, where)
        if function in ("Fn::Not", "Fn::And", "Fn::Or"):
            return self._logic(function, argument, where)
        raise TemplateError(where, f"{function} is not a condition function; expected Fn::Equals, Fn::Not, "
                                   "Fn::And, Fn::Or or Condition")

    def _equals(self, argument: Any, where: str) -> bool:
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError(f"{where}.Fn::Equals", f"expected [value, value], got {argument!r}")
        left, right = (self._resolve(item, f"{where}.Fn::Equals[{i}]") for i, item in enumerate(argument))
        return bool(_text(left) == _text(right))

    def _logic(self, function: str, argument: Any, where: str) -> bool:
        place = f"{where}.{function}"
        if not isinstance(argument, list) or not argument:
            raise TemplateError(place, f"expected a list of conditions, got {argument!r}")
        values = [self.evaluate(item, f"{place}[{i}]") for i, item in enumerate(argument)]
        if function == "Fn::Not":
            if len(values) != 1:
                raise TemplateError(place, f"expected exactly one condition, got {argument!r}")
            return not values[0]
        if not 2 <= len(values) <= 10:
            raise TemplateError(place, f"expected 2 to 10 conditions, got {len(values)}")
        return all(values) if function == "Fn::And" else any(values)


def _text(value: Any) -> Any:
    """CloudFormation compares values as text: ``10`` equals ``"10"``, ``true`` equals ``"true"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value
