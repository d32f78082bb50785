"""The cipher for personal data outside the event payloads: the views'
personal columns (projections/personal.py) and the aggregate ids.

Everything is derived from the one cipher key (``cipher_key`` /
``LEDGER_CIPHER_KEY``, the key the event store encrypts with), each use
under its own label, so no two uses share a key:

- names, birth dates, bank accounts, proxies, what an agent reported:
  AES-256-GCM with a random nonce (as the events);
- citizen ids and line ids in the views: AES-256-SIV, deterministic, so
  they remain keys for joins and exact look-ups (RFC 5297);
- aggregate ids: HMAC-SHA-256 of the citizen id (ledger/beneficiary.py).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV

from ledger.beneficiary import IdOf, keyed_beneficiary_ids

_LABEL = b"allowance-ledger:"


def derived_key(cipher_key: str, label: str, size: int = 32) -> bytes:
    """A key for one use, from the configured cipher key (HKDF-Expand with
    SHA-256, the configured key being uniformly random already)."""
    master = base64.b64decode(cipher_key)
    out, block, counter = b"", b"", 1
    while len(out) < size:
        block = hmac.new(master, block + _LABEL + label.encode() + bytes([counter]), hashlib.sha256).digest()
        out, counter = out + block, counter + 1
    return out[:size]


def beneficiary_ids(cipher_key: str) -> IdOf:
    return keyed_beneficiary_ids(derived_key(cipher_key, "beneficiary-id"))


class ViewCipher:
    """Implements projections.personal.PersonalCipher: text in, ASCII out."""

    def __init__(self, cipher_key: str):
        self._sealing = AESGCM(derived_key(cipher_key, "view-sealed"))
        self._keying = AESSIV(derived_key(cipher_key, "view-keyed", 64))
        self._nonce_prefix, self._counter = os.urandom(8), itertools.count()

    def _nonce(self) -> bytes:
        """A random 64-bit prefix per cipher and a counter: never the same
        nonce twice under one key (a random prefix repeats with odds of
        2^-64 per pair of ciphers), without a system call per value."""
        n = next(self._counter)
        if n >= 1 << 32:
            self._nonce_prefix, self._counter = os.urandom(8), itertools.count(1)
            n = 0
        return self._nonce_prefix + n.to_bytes(4, "big")

    def seal(self, text: str) -> str:
        nonce = self._nonce()
        return base64.b64encode(nonce + self._sealing.encrypt(nonce, text.encode(), None)).decode()

    def open(self, text: str) -> str:
        data = base64.b64decode(text)
        return self._sealing.decrypt(data[:12], data[12:], None).decode()

    def token(self, text: str) -> str:
        return base64.b64encode(self._keying.encrypt(text.encode(), None)).decode()

    def untoken(self, text: str) -> str:
        return self._keying.decrypt(base64.b64decode(text), None).decode()
