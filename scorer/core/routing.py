"""Which inside-sales team a lead goes to.

Ordered routing rules first (product interest, region, account owner, company size ...:
any lead attribute), then the team of the product interest, then the default team.
"""

from __future__ import annotations

from collections.abc import Mapping

from scorer.core.conditions import ALWAYS
from scorer.core.events import FieldValue
from scorer.core.rules import Routing


def route(
    routing: Routing, product: str | None, attributes: Mapping[str, FieldValue]
) -> str | None:
    for rule in routing.rules:
        if rule.products and product not in rule.products:
            continue
        if rule.when is ALWAYS or rule.when.matches(attributes):
            return rule.team
    if product is not None:
        team = routing.by_product.get(product)
        if team is not None:
            return team
    return routing.default_team
