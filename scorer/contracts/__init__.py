"""Wire contracts: topic definitions from `topics/` and the validating event models."""
