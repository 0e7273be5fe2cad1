from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "webapp.site"
    label = "site"
    verbose_name = "Site shell"
