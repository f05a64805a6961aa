"""Which file format an input is, and which an output is to be, for ``geobatch geocode`` and
``geobatch reverse``.

An input is judged by its first bytes before its name (an ``.xlsx`` saved under ``.csv`` is
still read as a workbook; a text file named ``.xlsx`` is refused as not a workbook); formats
the CLI does not read (Excel 97-2003 ``.xls``, OpenDocument, compressed files) are named with
what to do instead. An output's format follows its extension; standard output is CSV.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import PurePath

from geobatch.errors import InputError

ZIP_MAGIC = b"PK\x03\x04"
PARQUET_MAGIC = b"PAR1"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 .xls (and other Office files)
GZIP_MAGIC = b"\x1f\x8b"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"

XLSX_SUFFIXES = (".xlsx", ".xlsm")
PARQUET_SUFFIXES = (".parquet", ".pq")


class InputKind(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"


class OutputKind(StrEnum):
    CSV = "csv"
    GEOJSON = "geojson"
    GPKG = "gpkg"
    PARQUET = "parquet"


OUTPUT_SUFFIXES: dict[str, OutputKind] = {
    "": OutputKind.CSV,  # a name without an extension (and standard output)
    ".csv": OutputKind.CSV,
    ".tsv": OutputKind.CSV,
    ".tab": OutputKind.CSV,
    ".txt": OutputKind.CSV,
    ".geojson": OutputKind.GEOJSON,
    ".json": OutputKind.GEOJSON,
    ".gpkg": OutputKind.GPKG,
    ".parquet": OutputKind.PARQUET,
    ".pq": OutputKind.PARQUET,
}
WRITABLE = ".csv, .tsv, .geojson, .gpkg or .parquet"


def input_kind(name: str, head: bytes) -> InputKind:
    """The format of an input named ``name`` that starts with ``head`` ('-' for stdin);
    raises :class:`InputError` for a format the CLI does not read."""
    suffix = PurePath(name).suffix.casefold() if name != "-" else ""
    if head.startswith(OLE2_MAGIC) or suffix == ".xls":
        raise InputError(
            "the input is an Excel 97-2003 workbook (.xls) or another old Office file, which "
            "geobatch does not read: save it as .xlsx or as CSV UTF-8"
        )
    if suffix in (".ods", ".numbers"):
        raise InputError(
            f"geobatch does not read {suffix} spreadsheets: save the sheet as .xlsx or as CSV UTF-8"
        )
    if head.startswith(PARQUET_MAGIC):
        return InputKind.PARQUET
    if head.startswith(ZIP_MAGIC):
        return InputKind.XLSX  # an .xlsx is a zip; the reader says so if this one is not
    if suffix in XLSX_SUFFIXES:
        raise InputError(
            f"the input is not an Excel workbook: {name} does not start as an .xlsx file does "
            f"(a zip archive); is it another format under this name?"
        )
    if suffix in PARQUET_SUFFIXES:
        raise InputError(
            f"the input is not a Parquet file: {name} does not start with the Parquet magic bytes"
        )
    for magic, what in ((GZIP_MAGIC, "gzip"), (BZIP2_MAGIC + b"9", "bzip2"), (XZ_MAGIC, "xz")):
        if head.startswith(magic):
            raise InputError(f"the input is {what}-compressed: uncompress it first")
    return InputKind.CSV


def output_kind(name: str) -> OutputKind:
    """The format to write ``name`` in ('-' is standard output: CSV); raises
    :class:`InputError` for an extension the CLI does not write."""
    if name == "-":
        return OutputKind.CSV
    suffix = PurePath(name).suffix.casefold()
    kind = OUTPUT_SUFFIXES.get(suffix)
    if kind is not None:
        return kind
    if suffix in (*XLSX_SUFFIXES, ".xls"):
        raise InputError(
            f"geobatch does not write {suffix} workbooks: write .csv (Excel opens it) or one of "
            f"{WRITABLE}"
        )
    raise InputError(
        f"unknown output extension {suffix!r}: the output's name must end in {WRITABLE}"
    )
