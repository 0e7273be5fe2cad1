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


# Lines are sent in blocks of about this many characters: one write per line would make
# a million-row download a million socket writes.
BLOCK_CHARS = 1 << 16


def csv_lines(header: Iterable[object], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The CSV text of ``header`` and ``rows``, in blocks of about BLOCK_CHARS characters."""
    writer = csv.writer(_Line())
    block = [writer.writerow(header)]
    size = 0
    for row in rows:
        line = writer.writerow(row)
        block.append(line)
        size += len(line)
        if size >= BLOCK_CHARS:
            yield "".join(block)
            block, size = [], 0
    if block:
        yield "".join(block)


# Spreadsheets run a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """``value`` as a spreadsheet shows it as text: a leading apostrophe before a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


class DownloadView(APIView):
    """A view whose answer is a file rather than a DRF rendering: whatever Accept says,
    its errors are JSON."""

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        return super().perform_content_negotiation(request, force=True)
