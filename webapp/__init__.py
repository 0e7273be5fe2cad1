"""The web app (port 5001): review page, REST API, experiments, batch jobs."""
