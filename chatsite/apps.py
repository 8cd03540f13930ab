from django.apps import AppConfig


class ChatsiteConfig(AppConfig):
    name = "chatsite"
    verbose_name = "Project wiring"

    def ready(self):
        from chatsite import metrics

        metrics.install()  # DynamoDB calls and attempts counted from the first one
