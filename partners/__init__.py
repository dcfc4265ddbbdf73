"""Partner registry, settlement terms, budgets, OAuth clients and catalogues."""
