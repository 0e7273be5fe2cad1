"""What a request tells the reviews app: the request id."""

from django.http import HttpRequest

from webapp import modelservice


def request_id_of(request: HttpRequest) -> str:
    return modelservice.request_id_from(request.headers.get("x-request-id"))
