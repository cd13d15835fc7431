from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "DSO Console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import tasks, throttle  # noqa: F401 - connects the failed sign-in counter
        # tasks: registers the run tasks in every process, so sending one by name runs it inline in eager mode.
