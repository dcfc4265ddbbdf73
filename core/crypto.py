"""Keyed hashes for secrets the hub must recognise but never store, and authenticated
encryption for the few it must keep (its token-signing keys)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def _derive(secret_key: str, purpose: str) -> bytes:
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


def keyed_hash(secret_key: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under a key derived for ``purpose``; hex.

    Client secrets are 256-bit random strings, so a keyed fast hash is enough: there
    is nothing to brute-force, and a stolen database without the key reveals nothing.
    """
    return hmac.new(_derive(secret_key, purpose), value.encode(), hashlib.sha256).hexdigest()


def hashes_equal(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode(), right.encode())


def seal(secret_key: str, purpose: str, plaintext: bytes) -> str:
    """AES-256-GCM under a key derived for ``purpose``; nonce and ciphertext, base64."""
    nonce = os.urandom(12)
    sealed = AESGCM(_derive(secret_key, purpose)).encrypt(nonce, plaintext, purpose.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(secret_key: str, purpose: str, sealed: str) -> bytes:
    raw = base64.urlsafe_b64decode(sealed.encode())
    return AESGCM(_derive(secret_key, purpose)).decrypt(raw[:12], raw[12:], purpose.encode())
