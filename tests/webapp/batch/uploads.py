"""Upload bodies shared by the batch API and page tests."""

import io

from django.test import Client


def named(data: bytes, name: str = "reviews.tsv") -> io.BytesIO:
    """A file for the test client's multipart encoder."""
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def post_announcing(client: Client, path: str, length: int):
    """An empty multipart POST whose Content-Length claims ``length`` bytes: what the
    upload's size check must refuse on the header alone, before reading a body."""
    return client.generic(
        "POST",
        path,
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(length),
    )
