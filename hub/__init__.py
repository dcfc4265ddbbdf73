"""alliance-hub: app wiring and infrastructure (settings, database, CLI, HTTP app)."""
