"""The geocoder a worker process answers with: opened once per index location and kept between
tasks, whichever executor runs them (a local pool worker or a Dask worker).

A task names its index by :class:`IndexLocation` (a path every worker can read). The first task
of a process opens it (with :data:`open_geocoder`); later tasks reuse it until the files of the
index change on disk (a new import), when it is opened again. Nothing here knows about Dask: a
worker is any process that imports this module and calls :func:`geocoder_for`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from geobatch.model import Answer, GeocodeRequest, ResultStatus, ReverseRequest

Kind = Literal["forward", "reverse"]
Request = GeocodeRequest | ReverseRequest


class BatchGeocoder(Protocol):
    """What a task needs of a geocoder (``geobatch.geocode.geocoder.Geocoder`` fits)."""

    def geocode_batch(self, requests: Sequence[GeocodeRequest]) -> list[Answer]: ...

    def reverse_batch(self, requests: Sequence[ReverseRequest]) -> list[Answer]: ...


Opener = Callable[[Path], BatchGeocoder]


def open_index(index_dir: Path) -> BatchGeocoder:
    """The real geocoder of an index directory, its lookup tables built before the first task."""
    from geobatch.geocode.geocoder import Geocoder

    return Geocoder.open(index_dir).prepare()


# How workers open an index. A worker process may be given another (LocalExecutor's
# ``opener``: tests answer with fakes); it must be a top-level function, to pickle by name.
open_geocoder: Opener = open_index


@dataclass(frozen=True, slots=True)
class IndexLocation:
    """Where a task's index is: a directory every worker can read at this path."""

    path: Path


_lock = threading.Lock()
_open: dict[tuple[Opener, str], tuple[tuple[tuple[str, int, int], ...], BatchGeocoder]] = {}


def _signature(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of each file of the index: changes when it is rebuilt."""
    try:
        entries = sorted(os.scandir(path), key=lambda entry: entry.name)
    except OSError:
        return ()
    stats = []
    for entry in entries:
        try:
            stat = entry.stat()
        except OSError:
            continue
        stats.append((entry.name, stat.st_size, stat.st_mtime_ns))
    return tuple(stats)


def geocoder_for(location: IndexLocation) -> BatchGeocoder:
    """The geocoder of ``location`` in this process: opened on first use, kept while its files
    are unchanged. Raises whatever opening raises (an unusable index)."""
    opener = open_geocoder
    key = (opener, str(location.path))
    signature = _signature(location.path)
    with _lock:  # a Dask worker may run tasks in several threads
        held = _open.get(key)
        if held is not None and held[0] == signature:
            return held[1]
        _open.pop(key, None)  # let the old one go before the new one is loaded
        geocoder = opener(location.path)
        _open[key] = (signature, geocoder)
        return geocoder


def answer(geocoder: BatchGeocoder, kind: Kind, requests: Sequence[Request]) -> list[Answer]:
    """Answers for ``requests`` in order. When the batch call raises, each request is asked on
    its own, and one that still raises becomes a Failed answer: a bad row never ends a batch."""
    try:
        return _answer_all(geocoder, kind, requests)
    except Exception:
        pass
    answers = []
    for request in requests:
        try:
            answers.extend(_answer_all(geocoder, kind, [request]))
        except Exception as exc:
            answers.append(
                Answer(status=ResultStatus.FAILED, reason=str(exc) or type(exc).__name__)
            )
    return answers


def answer_at(location: IndexLocation, kind: Kind, requests: Sequence[Request]) -> list[Answer]:
    """A task: :func:`answer` on the geocoder of ``location`` in the worker running it."""
    return answer(geocoder_for(location), kind, requests)


def _answer_all(geocoder: BatchGeocoder, kind: Kind, requests: Sequence[Request]) -> list[Answer]:
    if not requests:
        return []
    if kind == "forward":
        answers = geocoder.geocode_batch([r for r in requests if isinstance(r, GeocodeRequest)])
    else:
        answers = geocoder.reverse_batch([r for r in requests if isinstance(r, ReverseRequest)])
    if len(answers) != len(requests):
        raise ValueError(f"geocoder gave {len(answers)} answers for {len(requests)} requests")
    return answers
