"""File-backed sources: open plain, gzip and zip text files for streaming, report progress in
bytes of the file on disk, and turn the many ways a file can be broken (missing, truncated gzip,
binary junk, bad zip) into one :class:`SourceError` sentence.

The tabular readers (OpenAddresses, GeoNames, postcode centroids) build on :class:`FileSource`.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from geobatch.errors import SourceError

if TYPE_CHECKING:
    from types import TracebackType

    from geobatch.sources.records import Progress

# Report progress every this many rows: often enough for a progress bar, rarely enough to be free.
PROGRESS_EVERY = 2048
_ZIP_SKIPPED_MEMBERS = ("readme", "license", "licence")


class FileSource:
    """What every file-backed source shares: its path, its name in the index (the file name),
    and a size hint in bytes on disk, the unit ``read`` reports progress in."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.skipped = 0  # bad rows of the last read

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def size_hint(self) -> int:
        return file_size(self.path)


@contextmanager
def translated_errors(path: Path) -> Iterator[None]:
    """Turn the foreign errors of reading ``path`` into one :class:`SourceError` sentence."""
    try:
        yield
    except FileNotFoundError as exc:
        raise SourceError(f"{path} does not exist.") from exc
    except IsADirectoryError as exc:
        raise SourceError(f"{path} is a directory, not a data file.") from exc
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise SourceError(f"{path} is not a readable gzip file ({exc}).") from exc
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{path} is not a readable zip file ({exc}).") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path} is not UTF-8 text (a binary or differently encoded file?)."
        ) from exc
    except csv.Error as exc:
        raise SourceError(f"{path} is not a readable CSV file ({exc}).") from exc
    except OSError as exc:
        raise SourceError(f"{path} cannot be read ({exc.strerror or exc}).") from exc


def file_size(path: Path) -> int:
    """Size of ``path`` in bytes, 0 when it cannot be read (the error surfaces in ``read``)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


class TextFile:
    """A plain, ``.gz`` or ``.zip`` text file opened for streaming, with its on-disk position.

    Use as a context manager inside :func:`translated_errors`. ``text`` yields decoded lines;
    ``position()`` is how many bytes of the file on disk have been consumed, so progress is
    measured in the same unit as ``path.stat().st_size`` whether or not the file is compressed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stack = ExitStack()
        self._raw: IO[bytes] | None = None
        self.text: IO[str] = io.StringIO()

    def __enter__(self) -> TextFile:
        try:
            raw = self._stack.enter_context(self.path.open("rb"))
            self._raw = raw
            self.text = self._stack.enter_context(
                io.TextIOWrapper(self._decompressed(raw), encoding="utf-8-sig", newline="")
            )
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def position(self) -> int:
        return self._raw.tell() if self._raw is not None else 0

    def _decompressed(self, raw: IO[bytes]) -> IO[bytes]:
        suffix = self.path.suffix.lower()
        if suffix == ".gz":
            return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
        if suffix == ".zip":
            archive = self._stack.enter_context(zipfile.ZipFile(raw))
            return archive.open(_zip_member(archive, self.path))
        return raw


def _zip_member(archive: zipfile.ZipFile, path: Path) -> zipfile.ZipInfo:
    """The data member of a zip: the one named like the archive, else the largest non-readme."""
    members = [
        info
        for info in archive.infolist()
        if not info.is_dir() and not info.filename.lower().startswith(_ZIP_SKIPPED_MEMBERS)
    ]
    if not members:
        raise SourceError(f"{path} is a zip file with no data file inside.")
    for info in members:
        if Path(info.filename).stem == path.stem:
            return info
    return max(members, key=lambda info: info.file_size)


class ByteProgress:
    """Advances a :class:`Progress` by the bytes a :class:`TextFile` has consumed on disk."""

    def __init__(self, progress: Progress | None, source: TextFile, total: int) -> None:
        self._progress = progress
        self._source = source
        self._total = total
        self._reported = 0

    def update(self) -> None:
        if self._progress is None:
            return
        # Never report past the size hint: a bar that overshoots looks broken.
        position = min(self._source.position(), self._total)
        if position > self._reported:
            self._progress.advance(position - self._reported)
            self._reported = position

    def finish(self) -> None:
        """Report the rest, so a complete read advances by exactly ``total``."""
        if self._progress is not None and self._total > self._reported:
            self._progress.advance(self._total - self._reported)
            self._reported = self._total


def first_line(path: Path) -> str:
    """The first line of a (possibly compressed) text file, without its line ending."""
    with translated_errors(path), TextFile(path) as source:
        return source.text.readline().rstrip("\r\n")
