"""Encoding detection of CSV inputs (formats/encoding.py), the transcoding reader
(batch/transcode.py), and the Failed row of a record that is not valid text (batch/csvtask.py)."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pytest

from geobatch.batch.csvtask import CsvSpec, geocode_slice
from geobatch.batch.transcode import Utf8Reader, scan_stream
from geobatch.batch.worker import IndexLocation
from geobatch.errors import InputError
from geobatch.formats import encoding
from geobatch.formats.encoding import HEAD_BYTES, Encoding, detect, forced, scan
from geobatch.formats.plaincsv import ForwardColumns

TEXT = (
    "id;address;city\n1;Bahnhofstraße 3;Zürich\n2;“Quai” d’Orsay – 7;Paris\n3;Calle Ñandú;Cádiz\n"
)
FILLER = "0;Main Street 1;Springfield\n" * (2 * HEAD_BYTES // 27)  # ASCII beyond the head

# (case, bytes, codec the bytes decode as, BOM length, label)
DETECTED = [
    ("utf-8", TEXT.encode("utf-8"), "utf-8", 0, "UTF-8"),
    ("utf-8 with BOM", codecs.BOM_UTF8 + TEXT.encode(), "utf-8", 3, "UTF-8 with BOM"),
    ("ascii", b"q\nVaduz\n", "utf-8", 0, "UTF-8"),
    ("empty", b"", "utf-8", 0, "UTF-8"),
    ("Excel 'Unicode text'", TEXT.encode("utf-16"), "utf-16-le", 2, "UTF-16 LE with BOM"),
    (
        "utf-16 BE with BOM",
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        "utf-16-be",
        2,
        "UTF-16 BE with BOM",
    ),
    ("utf-32 with BOM", TEXT.encode("utf-32"), "utf-32-le", 4, "UTF-32 LE with BOM"),
    ("utf-16 LE without BOM", TEXT.encode("utf-16-le"), "utf-16-le", 0, "UTF-16 LE"),
    ("utf-16 BE without BOM", TEXT.encode("utf-16-be"), "utf-16-be", 0, "UTF-16 BE"),
    ("Excel 'CSV' (Windows-1252)", TEXT.encode("cp1252"), "cp1252", 0, "Windows-1252"),
    (
        "Windows-1252 whose first accent is past the first 64 KB",
        (FILLER + TEXT).encode("cp1252"),
        "cp1252",
        0,
        "Windows-1252",
    ),
    ("latin-1 text reads as Windows-1252", "q\nGenève\n".encode("latin-1"), "cp1252", 0, None),
    (
        "UTF-8 damaged after valid accents stays UTF-8",
        TEXT.encode() + b"4;caf\xe9;x\n",
        "utf-8",
        0,
        "UTF-8",
    ),
]


@pytest.mark.parametrize(
    ("case", "data", "codec", "bom", "label"), DETECTED, ids=[c[0] for c in DETECTED]
)
def test_detects_the_encodings_excel_writes(
    case: str, data: bytes, codec: str, bom: int, label: str | None
) -> None:
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]  # chunk edges mid-character
    found = detect(scan(chunks))
    assert (found.codec, found.bom) == (codec, bom)
    if label is not None:
        assert found.label == label
    if data and "damaged" not in case:
        text = data[found.bom :].decode(found.codec)  # strict: every byte is read as meant
        assert not text.startswith("\ufeff")
        assert text.endswith(TEXT) or ("\n" in text and TEXT not in text)


UNDETECTABLE = [
    (
        "Russian in cp1251",
        "адрес\nМосква, Тверская улица 7\n".encode("cp1251"),
        "another code page",
    ),
    ("Greek in cp1253", "διεύθυνση\nΑθήνα, Πανεπιστημίου\n".encode("cp1253"), "another code page"),
    ("a byte cp1252 leaves unassigned", b"q\nab\x81cd\n", "0x81"),
    ("control characters", b"q\n\xe9\x01\x02\x03\x04\n", "control characters"),
    ("binary with NUL bytes", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "NUL bytes"),
]


@pytest.mark.parametrize(
    ("case", "data", "fragment"), UNDETECTABLE, ids=[c[0] for c in UNDETECTABLE]
)
def test_an_encoding_that_cannot_be_told_is_one_clear_error(
    case: str, data: bytes, fragment: str
) -> None:
    with pytest.raises(InputError, match=fragment) as caught:
        detect(scan([data]))
    message = str(caught.value)
    assert "\n" not in message
    if "NUL" not in fragment:
        assert "--encoding" in message


def test_scan_finds_the_first_bad_byte_across_chunks() -> None:
    data = b"a" * 10 + "é".encode() + b"b" * 5 + b"\xe9xyz"
    for size in (1, 2, 3, 7, 100):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        seen = scan(chunks)
        assert seen.bad_at == 17, size
        assert seen.utf8_before
        assert seen.window.startswith(b"\xe9xyz")


def test_scan_of_an_input_ending_inside_a_character() -> None:
    seen = scan([b"abc", "é".encode()[:1]])
    assert seen.bad_at == 3 and not seen.utf8_before


def test_scan_stream_reads_from_a_file_object() -> None:
    seen = scan_stream(io.BytesIO((FILLER + "é").encode("cp1252")), block=1000)
    assert seen.bad_at == len(FILLER)
    assert detect(seen).codec == "cp1252"


@pytest.mark.parametrize(
    ("name", "codec", "utf8"),
    [("utf-8", "utf-8", True), ("UTF8", "utf-8", True), ("cp1252", "cp1252", False),
     ("windows-1252", "cp1252", False), ("latin-1", "iso8859-1", False),
     ("utf-16", "utf-16", False)],
)  # fmt: skip
def test_forced_encodings(name: str, codec: str, utf8: bool) -> None:
    chosen = forced(name)
    assert chosen.codec == codec and chosen.is_utf8 is utf8 and chosen.label == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("klingon", "unknown encoding"),
        ("rot13", "not a text encoding"),
        ("base64", "not a text encoding"),
    ],
)
def test_forced_encoding_must_be_a_text_encoding(name: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        forced(name)


# --- transcoding ------------------------------------------------------------------------------


def _read_all(reader: Utf8Reader, size: int) -> bytes:
    out = bytearray()
    while data := reader.read(size):
        out += data
    return bytes(out)


@pytest.mark.parametrize("codec", ["cp1252", "utf-16-le", "utf-16-be", "utf-32-le"])
@pytest.mark.parametrize(("block", "size"), [(1, 1), (3, 5), (64, 7), (1 << 20, 1 << 16)])
def test_transcoding_gives_the_same_utf8_whatever_the_block(
    codec: str, block: int, size: int
) -> None:
    raw = TEXT.encode(codec)
    reader = Utf8Reader(io.BytesIO(raw), Encoding(codec, codec), block=block)
    assert _read_all(reader, size) == TEXT.encode("utf-8")


def test_transcoding_skips_the_byte_order_mark() -> None:
    raw = TEXT.encode("utf-16")
    found = detect(scan([raw]))
    assert _read_all(Utf8Reader(io.BytesIO(raw), found, block=5), 3) == TEXT.encode()


def test_undecodable_bytes_become_a_byte_that_is_never_utf8() -> None:
    raw = b"q\nab\x81cd\nok\n"
    out = _read_all(Utf8Reader(io.BytesIO(raw), Encoding("cp1252", "Windows-1252")), 100)
    assert out == b"q\nab" + encoding.MARK_BYTE + b"cd\nok\n"


def test_source_offset_maps_output_back_to_input_bytes() -> None:
    raw = (FILLER + TEXT).encode("utf-16")
    reader = Utf8Reader(io.BytesIO(raw), detect(scan([raw])), block=4096)
    produced = 0
    last = 0
    while data := reader.read(10_000):
        produced += len(data)
        offset = reader.source_offset(produced)
        assert last <= offset <= len(raw)
        last = offset
    assert reader.source_offset(produced) == len(raw)


# --- a row that is not valid text is a Failed row ----------------------------------------------


def test_a_record_that_is_not_valid_text_fails_alone(tmp_path: Path) -> None:
    spec = CsvSpec(
        kind="forward",
        index=IndexLocation(tmp_path / "never-opened"),
        header=("id", "q"),
        columns=ForwardColumns(query="q"),
        delimiter=",",
        out_delimiter=",",
        encoding="Windows-1252",
    )
    data = b'1,"caf' + encoding.MARK_BYTE + b'"\n2,"a\nb\xff"\n'
    piece = geocode_slice(spec, data, 7)  # no valid row: the index is never opened
    assert piece.failed == 2 and piece.ok == 0
    lines = piece.data.decode("utf-8").splitlines()
    assert lines[0].startswith("1,caf\ufffd,")
    assert "line 7 holds bytes that are not Windows-1252 text" in lines[0]
    assert "line 8 holds bytes" in piece.data.decode()
