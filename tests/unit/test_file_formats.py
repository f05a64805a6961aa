"""The CLI's file formats, one reader or writer at a time, on small files the tests make:
input kinds and output extensions (formats/filekinds.py), cell text and types
(formats/cells.py), the .xlsx and Parquet readers (batch/tables.py), and the GeoJSON,
GeoPackage and GeoParquet writers, whose files are read back with json, GDAL (pyogrio),
pyarrow and geopandas."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from geobatch.batch.gpkg import GeoPackageWriter, layer_name
from geobatch.batch.parquetout import ParquetWriter
from geobatch.batch.sinks import TableSink, open_writer
from geobatch.batch.tables import CsvStream, open_parquet, open_xlsx
from geobatch.errors import InputError
from geobatch.formats.cells import ColumnType, typed, unique_names, xlsx_text
from geobatch.formats.filekinds import InputKind, OutputKind, input_kind, output_kind
from geobatch.formats.plaincsv import RESULT_COLUMNS, OutputLayout, failure_columns
from geobatch.formats.tablegeo import GeoJsonWriter, OutputTable, gpkg_point, wkb_point
from geobatch.model import ResultStatus

openpyxl = pytest.importorskip("openpyxl")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

# --- which format ------------------------------------------------------------------------------

INPUTS = [
    ("in.csv", b"q\nVaduz\n", InputKind.CSV),
    ("in.txt", b"q\tx\n", InputKind.CSV),
    ("-", b"q\n", InputKind.CSV),
    ("in.xlsx", b"PK\x03\x04rest", InputKind.XLSX),
    ("in.csv", b"PK\x03\x04rest", InputKind.XLSX),  # a workbook under another name
    ("in.parquet", b"PAR1rest", InputKind.PARQUET),
    ("-", b"PAR1rest", InputKind.PARQUET),
]


@pytest.mark.parametrize(("name", "head", "kind"), INPUTS)
def test_input_kind(name: str, head: bytes, kind: InputKind) -> None:
    assert input_kind(name, head) is kind


REFUSED_INPUTS = [
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Excel 97-2003"),
    ("sheet.ods", b"PK\x03\x04", "does not read .ods"),
    ("text.xlsx", b"q\nVaduz\n", "not an Excel workbook"),
    ("text.parquet", b"q\nVaduz\n", "not a Parquet file"),
    ("in.csv.gz", b"\x1f\x8b\x08\x00", "gzip-compressed"),
]


@pytest.mark.parametrize(("name", "head", "fragment"), REFUSED_INPUTS)
def test_inputs_the_cli_does_not_read_say_what_to_do(name: str, head: bytes, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        input_kind(name, head)


OUTPUTS = [
    ("-", OutputKind.CSV),
    ("out", OutputKind.CSV),
    ("out.csv", OutputKind.CSV),
    ("out.TSV", OutputKind.CSV),
    ("out.geojson", OutputKind.GEOJSON),
    ("out.json", OutputKind.GEOJSON),
    ("dir.v2/out.GPKG", OutputKind.GPKG),
    ("out.parquet", OutputKind.PARQUET),
]


@pytest.mark.parametrize(("name", "kind"), OUTPUTS)
def test_output_kind_follows_the_extension(name: str, kind: OutputKind) -> None:
    assert output_kind(name) is kind


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("out.xlsx", "does not write .xlsx"), ("out.shp", "unknown output extension '.shp'")],
)
def test_unknown_output_extensions_are_refused(name: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        output_kind(name)


# --- cells -------------------------------------------------------------------------------------

CELLS = [
    (None, None, ""),
    ("Städtle 1", "General", "Städtle 1"),
    (12, "General", "12"),
    (12.0, "General", "12"),
    (47.141, "General", "47.141"),
    (-122.1, "0.00", "-122.1"),
    (501, "00000", "00501"),  # a US ZIP code stored as a number, shown with its zeros
    (2134.0, "00000", "02134"),
    (True, "General", "TRUE"),
    (dt.datetime(2024, 1, 31), "yyyy-mm-dd", "2024-01-31"),
    (dt.datetime(2024, 1, 31, 8, 5), "yyyy-mm-dd h:mm", "2024-01-31 08:05:00"),
    (dt.time(8, 5), "h:mm", "08:05:00"),
    (1e20, "General", "1e+20"),
]


@pytest.mark.parametrize(("value", "number_format", "text"), CELLS)
def test_xlsx_cell_text(value: object, number_format: str | None, text: str) -> None:
    assert xlsx_text(value, number_format) == text


TYPED = [
    ("", ColumnType.TEXT, ""),
    ("", ColumnType.REAL, None),
    ("47.5", ColumnType.REAL, 47.5),
    ("7", ColumnType.INTEGER, 7),
    ("7.5", ColumnType.INTEGER, "7.5"),  # kept as text rather than lost
    ("true", ColumnType.BOOLEAN, True),
    ("FALSE", ColumnType.BOOLEAN, False),
    ("maybe", ColumnType.BOOLEAN, "maybe"),
    ("00501", ColumnType.TEXT, "00501"),
]


@pytest.mark.parametrize(("text", "kind", "value"), TYPED)
def test_typed_values(text: str, kind: ColumnType, value: object) -> None:
    assert typed(text, kind) == value and type(typed(text, kind)) is type(value)


def test_unique_names() -> None:
    names = ["id", "ID", "", "fid", "geom", "id"]
    assert unique_names(names, reserved=["fid", "geom"]) == [
        "id",
        "ID_2",
        "column_3",
        "fid_2",
        "geom_2",
        "id_3",
    ]


# --- readers -----------------------------------------------------------------------------------


def _csv_of(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    stream = CsvStream(header, iter(rows), "test")
    data = bytearray()
    while chunk := stream.read(7):  # small reads: rows are cut anywhere
        data += chunk
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_csv_stream_quotes_what_needs_quoting() -> None:
    rows = [["1", 'a "quoted", value', "two\nlines"], ["2", "Zürich", ""]]
    assert _csv_of(["id", "q", "note"], rows) == [["id", "q", "note"], *rows]


def _workbook(
    path: Path, sheets: dict[str, list[list[object]]], formats: dict[str, str] | None = None
) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for position, (title, rows) in enumerate(sheets.items()):
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        for cell, number_format in (formats or {}).items() if position == 0 else ():
            sheet[cell].number_format = number_format
    book.save(path)
    return path


def test_xlsx_reader_streams_the_first_sheet(tmp_path: Path) -> None:
    path = _workbook(
        tmp_path / "in.xlsx",
        {
            "Addresses": [
                [None, None],  # empty rows before the header are skipped
                ["id", "address", "zip", "when", None],
                [1, "Städtle 1, Vaduz", 9490, dt.datetime(2024, 1, 31)],
                [2, None, 501, None],
                [None, None, None, None],
                [3.0, "Main St", None, None],
            ],
            "Other": [["q"], ["ignored"]],
        },
        {"C4": "00000"},
    )
    table = open_xlsx(path)
    try:
        assert table.header == ["id", "address", "zip", "when"]
        assert list(table.rows) == [
            ["1", "Städtle 1, Vaduz", "9490", "2024-01-31"],
            ["2", "", "00501"],
            [],
            ["3", "Main St"],
        ]
        assert table.label == "sheet 'Addresses'"
    finally:
        table.close()
    other = open_xlsx(path, "Other")
    assert list(other.rows) == [["ignored"]]
    other.close()


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        ("zip", "not a readable Excel workbook"),
        ("truncated", "not a readable Excel workbook"),
        ("no sheet", "has no sheet 'Nope'; its sheets: 'Sheet'"),
        ("empty", "is empty"),
    ],
)
def test_xlsx_reader_refuses_what_it_cannot_read(tmp_path: Path, make: str, fragment: str) -> None:
    path = tmp_path / "bad.xlsx"
    sheet = None
    if make == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("hello.txt", "not a workbook")
    elif make == "truncated":
        data = _workbook(tmp_path / "good.xlsx", {"Sheet": [["q"], ["Vaduz"]]}).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif make == "no sheet":
        _workbook(path, {"Sheet": [["q"], ["Vaduz"]]})
        sheet = "Nope"
    else:
        _workbook(path, {"Sheet": []})
    with pytest.raises(InputError, match=fragment):
        open_xlsx(path, sheet)


def test_parquet_reader_gives_text_and_column_types(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2, None], pa.int64()),
            "address": ["Städtle 1", None, "Main St"],
            "lat": pa.array([47.141, 1e-7, 12.0]),
            "ok": [True, False, None],
            "day": [dt.date(2024, 1, 31), None, dt.date(1999, 12, 1)],
            "price": pa.array([Decimal("1.50"), None, Decimal("-2.00")], pa.decimal128(5, 2)),
            "tags": [["a", "b"], None, []],
            "blob": [b"ab", None, b"\xff"],
        }
    )
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=2)
    opened = open_parquet(tmp_path / "in.parquet")
    assert opened.header == table.column_names
    assert opened.total == 3
    assert opened.types == (
        ColumnType.INTEGER,
        ColumnType.TEXT,
        ColumnType.REAL,
        ColumnType.BOOLEAN,
        ColumnType.TEXT,
        ColumnType.TEXT,
        ColumnType.TEXT,
        ColumnType.TEXT,
    )
    assert list(opened.rows) == [
        ["1", "Städtle 1", "47.141", "true", "2024-01-31", "1.50", '["a", "b"]', "ab"],
        ["2", "", "1e-07", "false", "", "", "", ""],
        ["", "Main St", "12", "", "1999-12-01", "-2.00", "[]", "0xff"],
    ]
    opened.close()


def test_parquet_reader_refuses_a_damaged_file(tmp_path: Path) -> None:
    pq.write_table(pa.table({"q": ["Vaduz"] * 100}), tmp_path / "good.parquet")
    data = (tmp_path / "good.parquet").read_bytes()
    (tmp_path / "bad.parquet").write_bytes(data[: len(data) - 20])
    with pytest.raises(InputError, match="not a readable Parquet file"):
        open_parquet(tmp_path / "bad.parquet")


# --- writers -----------------------------------------------------------------------------------

HEADER = ["id", "Name", "lat", "geom", "FID"]


def _row(values: list[str], lat: float | None, lon: float | None = None) -> list[str]:
    if lat is None:
        result = failure_columns(ResultStatus.FAILED, "missing latitude")
    else:
        result = dict.fromkeys(RESULT_COLUMNS, "")
        result.update(lat=f"{lat:.6f}", lon=f"{lon:.6f}", status="OK", locality="Vaduz")
        result.update(bbox_south="47.1", bbox_west="9.5", bbox_north="47.2", bbox_east="9.6")
    return OutputLayout.for_header(HEADER).row(values, result)


ROWS = [
    _row(["1", "=HYPERLINK(1)", "x", "g", "f"], 47.141, 9.521),
    _row(["2", 'Zürich, "quoted"\nline', "", "", ""], -33.87, 151.21),
    _row(["3", "", "", "", ""], None),
]


def _table(types: list[ColumnType] | None = None, reserved: tuple[str, ...] = ()) -> OutputTable:
    layout = OutputLayout.for_header(HEADER)
    return OutputTable.build(layout.input_header, layout.result_names, types, reserved=reserved)


def test_output_table_names_types_and_points() -> None:
    table = _table()
    assert table.names[:6] == ("id", "Name", "lat", "geom", "FID", "gb_lat")
    assert table.point(ROWS[0]) == (9.521, 47.141)
    assert table.point(ROWS[2]) is None
    values = table.values(ROWS[0])
    assert values[1] == "=HYPERLINK(1)"  # exact: no spreadsheet quote in machine formats
    assert values[table.names.index("gb_lat")] == 47.141
    assert values[table.names.index("bbox_east")] == 9.6


def test_geojson_writer(tmp_path: Path) -> None:
    path = tmp_path / "out.geojson"
    writer = GeoJsonWriter(path.open("wb"), _table())
    writer.write_rows(ROWS[:1])
    writer.write_rows(ROWS[1:])
    writer.close()
    document = json.loads(path.read_text(encoding="utf-8"))
    features = document["features"]
    assert document["type"] == "FeatureCollection" and len(features) == 3
    assert features[0]["geometry"] == {"type": "Point", "coordinates": [9.521, 47.141]}
    assert features[1]["properties"]["Name"] == 'Zürich, "quoted"\nline'
    assert features[2]["geometry"] is None
    assert features[2]["properties"]["status"] == "Failed"
    assert features[2]["properties"]["gb_lat"] is None


def test_an_empty_geojson_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "out.geojson"
    GeoJsonWriter(path.open("wb"), _table()).close()
    assert json.loads(path.read_text()) == {"type": "FeatureCollection", "features": []}


def test_geometry_blobs() -> None:
    assert wkb_point(9.5, 47.1) == bytes.fromhex(
        "0101000000"
    ) + b"\x00\x00\x00\x00\x00\x00#@" + bytes.fromhex("cdcccccccc8c4740")
    blob = gpkg_point(9.5, 47.1)
    assert blob[:2] == b"GP" and blob[2] == 0 and blob[3] == 1
    assert int.from_bytes(blob[4:8], "little") == 4326 and blob[8:] == wkb_point(9.5, 47.1)


def test_geopackage_writer_is_read_by_gdal(tmp_path: Path) -> None:
    pyogrio = pytest.importorskip("pyogrio")
    partial = tmp_path / "out.gpkg.partial"  # as the CLI writes it, renamed when complete
    types = [ColumnType.INTEGER, *[ColumnType.TEXT] * 4]
    writer = GeoPackageWriter(partial, _table(types, reserved=("fid", "geom")), layer_name(partial))
    writer.write_rows(ROWS)
    writer.close()
    path = partial.rename(tmp_path / "out.gpkg")
    info = pyogrio.read_info(path, layer="out")
    assert info["crs"] == "EPSG:4326" and info["geometry_type"] == "Point"
    assert info["features"] == 3
    assert list(info["fields"][:6]) == ["id", "Name", "lat", "geom_2", "FID_2", "gb_lat"]
    frame = pyogrio.read_dataframe(path)
    assert frame["id"].tolist() == [1, 2, 3]
    assert frame["Name"].tolist()[:2] == ["=HYPERLINK(1)", 'Zürich, "quoted"\nline']
    points = [(g.x, g.y) if g is not None else None for g in frame.geometry]
    assert points == [(9.521, 47.141), (151.21, -33.87), None]
    # The R-tree index is there and holds the located rows; the extent is recorded.
    with sqlite3.connect(path) as db:
        assert db.execute('SELECT count(*) FROM "rtree_out_geom"').fetchone() == (2,)
        extent = db.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents").fetchone()
        assert extent == (9.521, -33.87, 151.21, 47.141)
        assert db.execute("PRAGMA application_id").fetchone() == (0x47504B47,)
    bbox_frame = pyogrio.read_dataframe(path, bbox=(9, 47, 10, 48))
    assert bbox_frame["id"].tolist() == [1]


def test_parquet_writer_keeps_parquet_input_types(tmp_path: Path) -> None:
    geopandas = pytest.importorskip("geopandas")
    schema = pa.schema(
        [
            ("id", pa.int32()),
            ("Name", pa.string()),
            ("lat", pa.string()),
            ("geom", pa.timestamp("us")),
            ("FID", pa.list_(pa.int64())),  # not restorable: written as its text
        ]
    )
    rows = [
        _row(["1", "a", "x", "2024-01-31 12:00:00.000000", "[1]"], 47.141, 9.521),
        _row(["2", "", "", "", ""], None),
    ]
    path = tmp_path / "out.parquet"
    writer = ParquetWriter(path, _table(), schema)
    writer.write_rows(rows)
    writer.close()
    read = pq.read_table(path)
    assert read.schema.field("id").type == pa.int32()
    assert read.schema.field("geom").type == pa.timestamp("us")
    assert read.schema.field("FID").type == pa.string()
    assert read.schema.field("gb_lat").type == pa.float64()
    assert read.column("id").to_pylist() == [1, 2]
    assert read.column("Name").to_pylist() == ["a", None]  # the input's null comes back
    assert read.column("geom").to_pylist() == [dt.datetime(2024, 1, 31, 12), None]
    assert read.column("gb_lat").to_pylist() == [47.141, None]
    assert read.column("status").to_pylist() == ["OK", "Failed"]
    frame = geopandas.read_parquet(path)
    assert frame.crs.to_string() == "OGC:CRS84"
    assert frame.geometry.name == "geometry"
    assert (frame.geometry.iloc[0].x, frame.geometry.iloc[0].y) == (9.521, 47.141)
    assert frame.geometry.iloc[1] is None


@pytest.mark.parametrize("kind", [OutputKind.GEOJSON, OutputKind.GPKG, OutputKind.PARQUET])
def test_a_sink_writes_csv_slices_as_rows(tmp_path: Path, kind: OutputKind) -> None:
    """The CSV bytes of the pipeline, parsed back, give every writer the same rows."""
    path = tmp_path / f"out.{kind.value}"
    writer = open_writer(kind, path, _table(reserved=("fid", "geom")), None)
    sink = TableSink(writer)
    for row in ROWS:  # a slice a row, as the pipeline writes them
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerow(row)
        sink.write(text.getvalue().encode("utf-8"))
    writer.close()
    if kind is OutputKind.GEOJSON:
        names = [f["properties"]["Name"] for f in json.loads(path.read_text())["features"]]
    elif kind is OutputKind.PARQUET:
        names = pq.read_table(path).column("Name").to_pylist()
    else:
        with sqlite3.connect(path) as db:
            names = [name for (name,) in db.execute('SELECT "Name" FROM "out" ORDER BY fid')]
    assert names == [row[1] for row in ROWS]
