from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "DSO Console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import throttle  # noqa: F401 - connects the failed sign-in counter
        # Registers the run tasks in every process: services send them by name, which runs the registered
        # task inline in eager mode (DSO_TASKS_EAGER) and is a plain broker message otherwise.
        from console import tasks  # noqa: F401
