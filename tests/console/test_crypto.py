import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from console.models import Repository
from tests.factories import make_repository

pytestmark = pytest.mark.django_db


def stored_token(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM console_repository WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_secrets_are_encrypted_and_survive_key_rotation(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old_key]
    repository = make_repository(is_private=True, username="ci", token="very-secret")
    before = stored_token(repository.pk)
    assert before.startswith("fernet:") and "very-secret" not in before

    settings.ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption")
    after = stored_token(repository.pk)
    assert after != before

    settings.ENCRYPTION_KEYS = [new_key]  # the old key is gone: rotated rows still decrypt
    assert Repository.objects.get(pk=repository.pk).token == "very-secret"
