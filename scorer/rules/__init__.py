"""Loading and validating rules files (the edge: pydantic + PyYAML) into core `Rules`."""

from scorer.rules.loader import RulesError, format_path, load_rules, parse_rules

__all__ = ["RulesError", "format_path", "load_rules", "parse_rules"]
