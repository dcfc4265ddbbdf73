"""Webhook endpoints and the delivery of outbox events to them (docs/events.md)."""
