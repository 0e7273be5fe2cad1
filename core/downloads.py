"""File downloads from REST API views: CSV written line by line, streamed."""

import csv
from collections.abc import Iterable, Iterator

from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView


class _Line:
    """csv.writer's file: hands back each formatted line instead of storing it."""

    def write(self, line: str) -> str:
        return line


def csv_lines(header: Iterable[object], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


class DownloadView(APIView):
    """A view whose answer is a file rather than a DRF rendering: whatever Accept says,
    its errors are JSON."""

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        return super().perform_content_negotiation(request, force=True)
