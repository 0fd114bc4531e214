"""API keys: made here, shown once, kept only as a digest and a prefix.

A key is `lc_` and 32 random bytes (`secrets.token_urlsafe`), 256 bits that nobody chose.
A slow password hash (bcrypt, argon2) exists to make guessing a *person's* password costly,
because people pick from a small space; no guess at a random 256-bit key will ever succeed,
fast hash or not, so a plain SHA-256 is as safe here and lets every request find its key
with one indexed lookup instead of spending tens of milliseconds of CPU.
"""

import hashlib
import hmac
import secrets

KEY_MARK = "lc_"
PREFIX_CHARS = len(KEY_MARK) + 8


def new_key() -> str:
    return KEY_MARK + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    """What the database keeps of a key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def prefix_of(key: str) -> str:
    """Enough of a key for people to tell keys apart (about 48 bits: not enough to use it)."""
    return key[:PREFIX_CHARS]


def is_digest_of(key_digest: str, key: str) -> bool:
    """Constant-time comparison, for the bootstrap key held in the settings."""
    return hmac.compare_digest(key_digest, digest(key))
