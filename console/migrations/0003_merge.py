"""Joins the migrations that were written side by side on 0001; nothing to change."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0002_authhard"),
        ("console", "0002_history"),
        ("console", "0002_inputs"),
        ("console", "0002_portal"),
        ("console", "0002_robust"),
        ("console", "0002_sqlite"),
    ]

    operations = []
