"""Red-line rules (CR-01 to CR-12) as pure functions, their guards and the audit."""
