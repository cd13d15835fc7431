"""Encryption at rest for credentials, with rotatable keys.

``DSO_ENCRYPTION_KEYS`` holds Fernet keys: the first encrypts, all of them decrypt, so a new key is rotated
in by putting it first and running ``manage.py rotate_encryption``. Without keys (development only) one is
derived from the secret key.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from console.ops.logs import note_secret

PREFIX = "fernet:"


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = base64.urlsafe_b64encode(hashlib.sha256(f"dso-console:{secret_key}".encode()).digest())
        keys = (derived.decode(),)
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("DSO_ENCRYPTION_KEYS holds a key that is not a valid Fernet key") from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return PREFIX + fernet().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ImproperlyConfigured("stored secret is not encrypted")
    try:
        plaintext = fernet().decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "a stored secret cannot be decrypted with DSO_ENCRYPTION_KEYS: was a key removed too early?"
        ) from exc
    # Whatever is logged later in this request or task has it replaced by *** (console.ops.logs).
    note_secret(plaintext)
    return plaintext


def rotate(stored: str) -> str:
    return PREFIX + fernet().rotate(stored[len(PREFIX):].encode()).decode()


class EncryptedTextField(models.TextField):
    """Text stored encrypted; Python code sees plaintext, the database only ciphertext. `secret` tells
    console.services.audit never to copy the value into a snapshot."""

    secret = True

    def from_db_value(self, value, expression, connection):
        if not value:
            return ""
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return ""
        return encrypt(value)


class SecretHashField(models.CharField):
    """The digest a bearer secret is looked up by: not the secret, but never shown or audited either."""

    secret = True
