from django.apps import AppConfig


class ModelServiceConfig(AppConfig):
    name = "modelsvc"
    verbose_name = "Sentiment model service"
