from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from console.crypto import EncryptedTextField, rotate


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of DSO_ENCRYPTION_KEYS (run after adding a key)."

    def handle(self, *args, **options):
        rotated = 0
        for model in apps.get_app_config("console").get_models():
            fields = [f for f in model._meta.fields if isinstance(f, EncryptedTextField)]
            for field in fields:
                table, column = model._meta.db_table, field.column
                quote = connection.ops.quote_name
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(f"SELECT id, {quote(column)} FROM {quote(table)} WHERE {quote(column)} <> ''")
                    for pk, stored in cursor.fetchall():
                        cursor.execute(f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE id = %s",
                                       [rotate(stored), pk])
                        rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} secrets with the current key.")
