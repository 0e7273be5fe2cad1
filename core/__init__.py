"""Shared foundation of both services: settings, errors, version, metrics."""
