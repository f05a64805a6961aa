"""Quick upper bounds on the entities of an upload, from a byte scan that parses nothing.

The job service sets aside a key's daily allowance for an upload when it arrives, before the
upload is decoded (which takes seconds for a large one, and runs later in a process of its
own). These counts are what it sets aside: ``bytes.count`` over blocks of 1 MB, about a
millisecond per MB. A codec's bound never counts fewer entities than its decoder yields from a
file it reads, save in odd corners (a first line taken for a header that the decoder reads as
an entity): the store then sets more aside while the rows are stored, or aborts the job.
"""

from __future__ import annotations

from typing import BinaryIO

BLOCK = 1024 * 1024


def count_lines(stream: BinaryIO, block: int = BLOCK) -> int:
    """Physical lines as a universal-newline reader splits them: LF, CRLF and a lone CR each
    end a line, and a last line without an ending counts too."""
    lines = 0
    last = b""
    carried_cr = False
    while data := stream.read(block):
        lines += data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
        if carried_cr and data.startswith(b"\n"):
            lines -= 1  # a CRLF split between two blocks was counted as two endings
        carried_cr = data.endswith(b"\r")
        last = data[-1:]
    if last and last not in b"\r\n":
        lines += 1
    return lines


def count_occurrences(
    stream: BinaryIO, needles: tuple[bytes, ...], block: int = BLOCK
) -> tuple[int, ...]:
    """How many times each of ``needles`` occurs in the stream (occurrences that straddle two
    blocks included; overlapping occurrences of one needle are not all counted, as with
    ``bytes.count``)."""
    counts = [0] * len(needles)
    keep = max(len(needle) for needle in needles) - 1
    tail = b""
    while data := stream.read(block):
        window = tail + data
        for n, needle in enumerate(needles):
            # Only occurrences that end inside this block: those within the tail were counted.
            counts[n] += window.count(needle) - tail.count(needle)
        tail = window[-keep:] if keep else b""
    return tuple(counts)
