from django.apps import AppConfig


class CanaryConfig(AppConfig):
    name = "webapp.canary"
    label = "canary"
    verbose_name = "Canary guard"
