"""Members, identity attestation, consent, earning and redemption flows."""
