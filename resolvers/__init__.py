"""Thin async GraphQL resolvers, per-request loaders and permissions."""
