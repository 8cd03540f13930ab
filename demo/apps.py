from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Commands that span both apps (seed_demo). It may use accounts and rooms; nothing uses it."""

    name = "demo"
    verbose_name = "Demo data"
