"""The first bytes of a dropped file as text, for the preview: a gzip file or the first member of
a zip archive (what the job service unpacks) is inflated as far as its first bytes allow."""

from __future__ import annotations

import struct
import zlib

from geobatch.errors import InputError

PREVIEW_BYTES = 256 * 1024  # inflated: enough for a header and ten long rows
_ZIP_HEADER = struct.Struct("<4s5H3I2H")  # the local file header, 30 bytes


def unpacked_head(sample: bytes, complete: bool) -> tuple[bytes, bool, str]:
    """(first bytes of the content, whether they are all of it, "gzip" | "zip" | "")."""
    if sample.startswith(b"\x1f\x8b"):
        inflater = zlib.decompressobj(wbits=31)
        return _inflate(inflater, sample), False, "gzip"
    if sample.startswith(b"PK\x03\x04"):
        if len(sample) < _ZIP_HEADER.size:
            raise InputError("the zip archive is cut short")
        fields = _ZIP_HEADER.unpack_from(sample)
        method, name_length, extra_length = fields[3], fields[9], fields[10]
        start = _ZIP_HEADER.size + name_length + extra_length
        if method == 0:
            return sample[start : start + PREVIEW_BYTES], False, "zip"
        if method != 8:
            raise InputError("the zip archive uses a compression other than deflate")
        return _inflate(zlib.decompressobj(wbits=-15), sample[start:]), False, "zip"
    return sample, complete, ""


def _inflate(inflater: zlib._Decompress, data: bytes) -> bytes:
    try:
        return inflater.decompress(data, PREVIEW_BYTES)
    except zlib.error as exc:
        raise InputError(f"the compressed file is damaged: {exc}") from None
