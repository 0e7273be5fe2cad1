"""The model service: serves the trained sentiment pipeline over HTTP (port 5000)."""
