"""Settlement periods, statements, netting, partner reports and reconciliation."""
