"""The hub's OAuth 2.0 authorization server (authlib, driven from Starlette) and the
bearer-token check on the resource side."""
