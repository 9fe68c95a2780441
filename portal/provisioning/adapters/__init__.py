"""One module per way of reaching an operator; each registers itself in the registry."""
