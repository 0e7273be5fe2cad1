"""The one source of truth for the application version (shown on pages, APIs and metrics)."""

APP_VERSION = "1.0.0"
