"""The layer problem and what every method shares: validation, patterns, objective, result, dense algebra, arrays."""
