"""Strawberry types and the assembled GraphQL schema."""
