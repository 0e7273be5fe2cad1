"""Placeholder until the experiments app lands: every visitor is in no experiment."""


class ExperimentMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.experiment = None
        return self.get_response(request)
