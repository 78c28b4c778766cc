"""Reading the start of a CSV file to choose its delimiter, check its header and spot decimal commas.

:func:`metaad.data.readers.read_table` calls these before handing the file to pandas, so a semicolon file is
not read as one text column and a repeated header name is not silently renamed ``a.1``.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path

from metaad.exceptions import DataError

#: Delimiters tried when a CSV's delimiter is not given, in order of preference for ties.
CANDIDATE_DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
#: Bytes of a CSV read to choose its delimiter and check its header.
SNIFF_BYTES = 64 * 1024
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def encoding_message(path: Path, encoding: str | None, exc: UnicodeDecodeError) -> str:
    return (
        f"file {str(path)!r} is not valid {encoding or 'UTF-8'} text ({exc.reason} at byte {exc.start}); "
        "give its encoding, e.g. --encoding latin-1 (encoding='latin-1' in Python)"
    )


def sample_lines(path: Path, suffix: str, encoding: str | None) -> list[str]:
    """The complete lines in the first :data:`SNIFF_BYTES` of a text file (all lines of a small file)."""
    try:
        if suffix.endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                raw = handle.read(SNIFF_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                raw = handle.read(SNIFF_BYTES + 1)
    except (OSError, EOFError) as exc:
        raise DataError(f"file {str(path)!r} cannot be read as {suffix}: {type(exc).__name__}: {exc}") from exc
    truncated = len(raw) > SNIFF_BYTES
    raw = raw[:SNIFF_BYTES]
    try:
        text = raw.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError as exc:
        if not (truncated and exc.start >= len(raw) - 4):  # a multi-byte character cut by the sample's end
            raise DataError(encoding_message(path, encoding, exc)) from exc
        text = raw[: exc.start].decode(encoding or "utf-8-sig")
    except LookupError as exc:
        raise DataError(f"encoding {encoding!r} is not known to Python: {exc}") from exc
    lines = text.splitlines()
    if truncated and lines:
        lines = lines[:-1]  # the last line may be cut short
    return [line for line in lines if line.strip()]


def _field_counts(lines: list[str], sep: str) -> list[int]:
    try:
        return [len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=sep)]
    except csv.Error:
        return []


def choose_delimiter(lines: list[str], default: str, path: Path) -> str:
    """The delimiter that splits every sampled line into the same number (> 1) of fields.

    The suffix's own delimiter wins when it fits; otherwise the fitting candidate with the most fields. A
    one-column file is read with the default unless its header holds another candidate (then it is refused).

    Examples
    --------
    >>> choose_delimiter(["a;b", "1,5;2", "3;4"], ",", Path("eu.csv"))
    ';'
    >>> choose_delimiter(["a,b", "x;y,1"], ",", Path("notes.csv"))
    ','
    """
    if not lines:
        return default
    fitting = {}
    for sep in (default, *(c for c in CANDIDATE_DELIMITERS if c != default)):
        counts = _field_counts(lines, sep)
        if counts and counts[0] > 1 and len(set(counts)) == 1:
            fitting[sep] = counts[0]
    if default in fitting:
        return default
    if fitting:
        return max(fitting, key=lambda sep: fitting[sep])  # max keeps the first of equals: preference order
    header = lines[0]
    found = [c for c in CANDIDATE_DELIMITERS if c != default and c in header]
    if found:
        names = " or ".join(_DELIMITER_NAMES[c] for c in found)
        raise DataError(
            f"file {str(path)!r}: cannot tell its delimiter (the header {header[:80]!r} holds a {names} but the "
            "lines do not split into equal numbers of fields); give it with --sep (sep= in Python)"
        )
    return default


def check_header(lines: list[str], sep: str, path: Path) -> None:
    """Refuse a header that names a column twice (pandas would silently rename the second ``a.1``)."""
    if not lines:
        return
    try:
        header = next(csv.reader(io.StringIO(lines[0]), delimiter=sep))
    except (csv.Error, StopIteration):
        return
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(header):
        if name.strip():
            positions.setdefault(name, []).append(position)
    repeated = {name: where for name, where in positions.items() if len(where) > 1}
    if repeated:
        described = "; ".join(f"{name!r} (columns {', '.join(str(i + 1) for i in where)})" for name, where in repeated.items())
        raise DataError(f"file {str(path)!r}: the header repeats {described}; every column needs its own name")


def has_decimal_commas(lines: list[str], sep: str) -> bool:
    """Whether a non-comma-delimited sample writes numbers with decimal commas (``1,5``) and never with points."""
    rows = list(csv.reader(io.StringIO("\n".join(lines[1:])), delimiter=sep))
    cells = [cell.strip() for row in rows for cell in row]
    comma = sum(bool(_DECIMAL_COMMA.match(cell)) for cell in cells)
    point = sum(bool(_DECIMAL_POINT.match(cell)) for cell in cells)
    return comma > 0 and point == 0


_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+([eE][+-]?\d+)?$")
_DECIMAL_POINT = re.compile(r"^[+-]?\d*\.\d+([eE][+-]?\d+)?$")
