#!/usr/bin/env python
"""One entry point for both services; DJANGO_SETTINGS_MODULE picks which (default: web app)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
