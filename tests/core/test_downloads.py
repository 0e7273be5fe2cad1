import csv
import io

import pytest

from core.downloads import BLOCK_CHARS, csv_lines, spreadsheet_safe

# A cell a spreadsheet would run as a formula, and what the download shows instead.
FORMULA_CELLS = {
    "=cmd|' /C calc'!A0": "'=cmd|' /C calc'!A0",
    "+1 great": "'+1 great",
    "-1 bad": "'-1 bad",
    "@SUM(A1:A2)": "'@SUM(A1:A2)",
    "\tindented": "'\tindented",
    "\rreturn": "'\rreturn",
    "Fine = good": "Fine = good",
}


@pytest.mark.parametrize(("cell", "shown"), FORMULA_CELLS.items())
def test_spreadsheet_formulas_are_neutralised(cell, shown):
    assert spreadsheet_safe(cell) == shown


def test_csv_lines_come_in_blocks_that_join_to_the_whole_file():
    rows = [(n, 'a review, with a comma and "quotes"', 0.5) for n in range(5000)]
    blocks = list(csv_lines(["row", "review", "confidence"], rows))
    assert len(blocks) > 1
    assert all(len(block) < BLOCK_CHARS + 200 for block in blocks)
    parsed = list(csv.reader(io.StringIO("".join(blocks))))
    assert parsed[0] == ["row", "review", "confidence"]
    assert parsed[1:] == [[str(n), review, str(c)] for n, review, c in rows]


def test_csv_lines_of_no_rows_is_the_header():
    assert list(csv_lines(["row"], [])) == ["row\r\n"]
