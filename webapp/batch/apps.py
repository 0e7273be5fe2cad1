from django.apps import AppConfig


class BatchConfig(AppConfig):
    name = "webapp.batch"
    label = "batch"
    verbose_name = "Batch analysis"
