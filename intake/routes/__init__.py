"""intake's HTTP routes, one module per audience."""
