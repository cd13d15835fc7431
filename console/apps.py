from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "DSO Console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import throttle  # noqa: F401 - connects the failed sign-in counter
