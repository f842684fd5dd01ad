"""How a text file is written: its encoding and, for CSV, its delimiter, decided from a prefix.

Per file: a byte order mark decides (UTF-8, UTF-16); otherwise text that is valid UTF-8 is UTF-8;
otherwise Windows-1252, unless charset-normalizer recognises another script's language in enough bytes
(Cyrillic, Greek, CJK) or a Latin code page that reads the words better (cp1250 for Polish). Among the
Latin code pages it confuses on short samples Windows-1252 wins ties (cp1250 reads `crème` as `crčme`).
The delimiter of a `.csv` is sniffed among `,` `;` tab `|` outside quotes. Both look at a prefix only,
so big files are not decoded twice; a file whose prefix looked like UTF-8 but whose later bytes are not
is detected again as a whole.
"""

from __future__ import annotations

import codecs
import dataclasses
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import charset_normalizer

from tap_sequentum.contents.source import Source, as_source
from tap_sequentum.settings import AUTO

#: Formats read as text: their encoding is detected when not forced.
TEXT_FORMATS = frozenset({"csv", "tsv", "json", "jsonl"})
#: Bytes read to decide; enough for a header and a few dozen rows.
SNIFF_BYTES = 64 << 10
DELIMITERS = (",", ";", "\t", "|")
#: Non-ASCII bytes needed before a guess beyond Windows-1252 is trusted (a few accents say little).
_EVIDENCE = 32
#: Single-byte Latin code pages charset-normalizer mixes up with Windows-1252 on short samples.
_LATIN_CODE_PAGES = frozenset(
    {"cp1250", "cp1252", "latin_1", "iso8859_15", "iso8859_2", "mac_roman", "mac_latin2", "cp850", "cp858"}
)


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file: text encoding and CSV delimiter (each a value or "auto"), Arrow block size.

    512 KiB blocks: smaller ones cost per-batch overhead in both passes (256 KiB: about 10 % slower end to
    end on the 2M-row benchmark), larger ones memory (pyarrow reads blocks ahead: 1 MiB adds 25 MiB of peak
    RSS); a cell larger than a block is still read correctly.
    """

    encoding: str = AUTO
    delimiter: str = AUTO
    block_size: int = 512 << 10
    #: Whether `encoding` came from a prefix (so a later non-UTF-8 byte means: detect again).
    from_prefix: bool = False

    @property
    def codec(self) -> str:
        """The codec to decode with ("auto" that was never resolved reads as UTF-8)."""
        return "utf-8" if self.encoding == AUTO else self.encoding


def resolve(source: Source | Path, fmt: str, options: ReadOptions) -> ReadOptions:
    """The options for one file with "auto" decided from its first `SNIFF_BYTES` bytes."""
    if fmt not in TEXT_FORMATS or (options.encoding != AUTO and (fmt != "csv" or options.delimiter != AUTO)):
        return options
    with as_source(source).open() as handle:
        sample = _read_up_to(handle, SNIFF_BYTES + 1)
    complete = len(sample) <= SNIFF_BYTES
    sample = sample[:SNIFF_BYTES]
    resolved = options
    if options.encoding == AUTO:
        resolved = dataclasses.replace(
            resolved, encoding=detect_encoding(sample, complete=complete), from_prefix=not complete
        )
    if fmt == "csv" and options.delimiter == AUTO:
        text = sample.decode(resolved.codec, errors="replace")
        resolved = dataclasses.replace(resolved, delimiter=sniff_delimiter(text, complete=complete))
    return resolved


def redetect(source: Source | Path, options: ReadOptions) -> ReadOptions | None:
    """New options for a file whose prefix looked like UTF-8 but which is not, or None if it is."""
    if not options.from_prefix or options.codec != "utf-8":
        return None
    sample = non_utf8_sample(as_source(source))
    if sample is None:
        return None
    return dataclasses.replace(options, encoding=detect_encoding(sample), from_prefix=False)


def _read_up_to(handle: BinaryIO, size: int) -> bytes:
    """`size` bytes, or fewer at the end of the file (a stream may answer in smaller pieces)."""
    parts, got = [], 0
    while got < size and (part := handle.read(size - got)):
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def detect_encoding(sample: bytes, *, complete: bool = True) -> str:
    """The codec name of `sample`, the start of a file (`complete` when it is the whole file)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if is_utf8(sample, complete=complete):
        return "utf-8"
    evidence = sum(1 for byte in sample if byte >= 0x80)
    best = charset_normalizer.from_bytes(sample).best() if evidence >= _EVIDENCE else None
    guess = codecs.lookup(best.encoding).name if best is not None else None
    if (
        best is not None
        and guess not in _LATIN_CODE_PAGES
        and best.language != "Unknown"
        and _decodes(sample, guess)
    ):
        return guess  # another script, recognised as a language (Cyrillic, Greek, Japanese...)
    candidates = list(dict.fromkeys(["cp1252", "cp1250", *([guess] if guess else [])]))
    decoded = [(name, text) for name in candidates if (text := _decode(sample, name)) is not None]
    if not decoded:
        return "latin-1"  # decodes any byte; nothing better is known
    return min(decoded, key=lambda pair: (_symbols_in_words(pair[1]), pair[0] != "cp1252"))[0]


def is_utf8(sample: bytes, *, complete: bool = True) -> bool:
    """Whether `sample` is UTF-8; a multi-byte character cut at the end of a prefix is allowed."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError:
        return False
    return True


def non_utf8_sample(source: Source, size: int = SNIFF_BYTES, chunk: int = 1 << 20) -> bytes | None:
    """A sample around the first byte of a file that is not UTF-8, or None if the whole file is UTF-8.

    The file is read in chunks, so a big file is never held in memory.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    previous = b""
    with source.open() as handle:
        while True:
            block = handle.read(chunk)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                window = previous + block
                bad = len(previous) + max(exc.start, 0) - len(decoder.getstate()[0])
                start = max(0, bad - size // 2)
                return window[start : start + size]
            if not block:
                return None
            previous = block


def _decode(sample: bytes, codec: str) -> str | None:
    try:
        return sample.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _decodes(sample: bytes, codec: str) -> bool:
    return _decode(sample, codec) is not None


def _symbols_in_words(text: str) -> int:
    """Non-ASCII symbols touching a letter: `Za¿ó³æ` (cp1250 read as cp1252) scores, `Prix (€)` does not."""
    score = 0
    for index, char in enumerate(text):
        if char.isascii() or unicodedata.category(char).startswith("L"):
            continue
        before = text[index - 1] if index else " "
        after = text[index + 1] if index + 1 < len(text) else " "
        if before.isalpha() or after.isalpha():
            score += 1
    return score


def sniff_delimiter(text: str, *, complete: bool = True, candidates: Iterable[str] = DELIMITERS) -> str:
    """The delimiter of CSV text: the candidate found in the header and as often in (nearly) every record.

    Counting happens outside double quotes, so `"a;b",c` counts one comma and no semicolon. Ties go to
    the more frequent one in the header, then to the order of `candidates`; nothing found means `,`.
    """
    candidates = tuple(candidates)
    records = _records(text, candidates)
    if not complete and len(records) > 1:
        records = records[:-1]  # the last record of a prefix may be cut short
    if not records:
        return ","
    header = records[0]
    best, best_score = ",", (-1.0, -1, 0)
    for order, delimiter in enumerate(candidates):
        if header[delimiter] == 0:
            continue
        agree = sum(1 for counts in records if counts[delimiter] == header[delimiter]) / len(records)
        score = (agree, header[delimiter], -order)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _records(text: str, candidates: tuple[str, ...], limit: int = 51) -> list[dict[str, int]]:
    """Per record (newlines inside quotes do not end one), how often each candidate occurs outside quotes."""
    records: list[dict[str, int]] = []
    counts = dict.fromkeys(candidates, 0)
    quoted = content = False
    for char in text:
        if char == '"':
            quoted = not quoted
            content = True
        elif quoted or char == "\r":
            continue
        elif char == "\n":
            if content:
                records.append(counts)
                if len(records) >= limit:
                    return records
            counts = dict.fromkeys(candidates, 0)
            content = False
        else:
            content = True
            if char in counts:
                counts[char] += 1
    if content:
        records.append(counts)
    return records
