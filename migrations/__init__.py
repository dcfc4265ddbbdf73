"""Alembic migrations: the only way the database schema is created."""
