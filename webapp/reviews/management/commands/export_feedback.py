"""Export reviews labelled by user feedback as training data (the corpus's TSV format)."""

import contextlib
import re
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from webapp.reviews import selectors

# Tabs and every character str.splitlines() breaks on would split a row or a field.
_SEPARATORS = re.compile(r"[\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")


def tsv_text(review: str) -> str:
    return _SEPARATORS.sub(" ", review).strip()


class Command(BaseCommand):
    help = (
        "Write feedback-labelled reviews as a training TSV (header 'Review<TAB>Liked'): the "
        "predicted label when users marked it correct, the opposite when they marked it wrong."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, type=Path, help="TSV file to write")

    def handle(self, *args, out: Path, **options):
        partial = out.with_name(out.name + ".partial")
        count = 0
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("w", encoding="utf-8", newline="\n") as handle:
                handle.write("Review\tLiked\n")
                for review, liked in selectors.labelled_reviews():
                    text = tsv_text(review)
                    if text:
                        handle.write(f"{text}\t{liked}\n")
                        count += 1
            # Readers never see a half-written file.
            partial.replace(out)
        except OSError as exc:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise CommandError(f"cannot write {out}: {exc.strerror}") from exc
        self.stdout.write(f"wrote {count} labelled reviews to {out}")
