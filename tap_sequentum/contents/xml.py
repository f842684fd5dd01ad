"""XML exports as rows, streamed with `iterparse` so memory stays flat however long the file is.

The mapping (also in docs): the *record elements* are the repeated elements closest to the root (in
`<feed><products><product>...` every `<product>` is a row). In a record:

- each attribute is a column named after it (`<product id="7">` -> `id`);
- each leaf child (no children of its own) is a column holding its text exactly (`<price>9.90</price>`
  -> `price` = `9.90`); an empty leaf is an empty cell; a leaf's own attributes are columns
  `<leaf>_<attribute>` (`<price currency="EUR">` -> `price_currency`);
- a child repeated in one record, or a child that has children, keeps its content as a JSON value
  (`<tags><tag>a</tag><tag>b</tag></tags>` -> `tags` = `{"tag":["a","b"]}`), as the JSON reader does
  for nested objects;
- a record without children that holds text is one column named after the record element.

Namespaces are dropped from names (`{http://...}price` -> `price`). The encoding comes from the file
itself (byte order mark or XML declaration), as XML defines. Parsing goes through defusedxml: a scraped
file is untrusted input, and entity expansion or external entities are refused, not followed.
"""

from __future__ import annotations

import collections
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from tap_sequentum.contents.columns import batched_rows
from tap_sequentum.contents.source import Source, as_source
from tap_sequentum.errors import MalformedFileError

#: Start events read to find the record elements before streaming the whole file.
_SCAN_EVENTS = 5000


def read_xml(source: Source | Path, options: object = None) -> Iterator[pa.RecordBatch]:
    """Every record element of an XML file as a row of text cells (see the module docstring).

    `options` is accepted like every reader's and unused: XML names its own encoding.
    """
    source = as_source(source)
    try:
        with source.open() as handle:
            where = _record_element(handle)
        if where is None:
            return
        with source.open() as handle:
            yield from batched_rows(_records(handle, where))
    except ET.ParseError as exc:
        raise MalformedFileError(f"not well-formed XML: {exc}") from None
    except DefusedXmlException as exc:
        raise MalformedFileError(f"refused XML construct ({type(exc).__name__}): {exc}") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _record_element(handle: BinaryIO) -> tuple[int, str] | None:
    """(depth, tag) of the record elements: the shallowest tag that repeats under one parent.

    Only the first few thousand elements are looked at; a file with a single record element under
    its root yields that one row.
    """
    repeats: collections.Counter[tuple[int, str]] = collections.Counter()
    children: collections.Counter[tuple[int, int, str]] = collections.Counter()
    first_child: tuple[int, str] | None = None
    stack: list[int] = []  # serial numbers of the open elements
    serial = 0
    for event, elem in iterparse(handle, events=("start", "end")):
        if event == "end":
            stack.pop()
            continue
        serial += 1
        depth = len(stack)
        tag = _local(elem.tag)
        if depth >= 1:
            key = (depth, stack[-1], tag)
            children[key] += 1
            if children[key] == 2:
                repeats[(depth, tag)] += 1
            if depth == 1 and first_child is None:
                first_child = (depth, tag)
        stack.append(serial)
        if serial >= _SCAN_EVENTS:
            break
    if repeats:
        shallowest = min(depth for depth, _ in repeats)
        candidates = [(count, tag) for (depth, tag), count in repeats.items() if depth == shallowest]
        return shallowest, max(candidates)[1]
    return first_child


def _records(handle: BinaryIO, where: tuple[int, str]) -> Iterator[dict[str, Any]]:
    depth, record_tag = where
    open_elements: list[ET.Element] = []
    for event, elem in iterparse(handle, events=("start", "end")):
        if event == "start":
            open_elements.append(elem)
            continue
        open_elements.pop()
        if len(open_elements) == depth and _local(elem.tag) == record_tag:
            yield _row(elem)
            if open_elements:
                open_elements[-1].remove(elem)  # keep memory flat: done rows leave the tree
        elif len(open_elements) < depth and open_elements:
            # Between records (a wrapper closed): drop what was read so far under it.
            open_elements[-1].remove(elem)


def _row(record: ET.Element) -> dict[str, Any]:
    row: dict[str, Any] = {_local(name): value for name, value in record.attrib.items()}
    elements = list(record)
    if not elements:
        row[_local(record.tag)] = record.text or None
        return row
    tags = collections.Counter(_local(child.tag) for child in elements)
    for child in elements:
        tag = _local(child.tag)
        if tags[tag] > 1:
            continue
        if len(child):
            row[tag] = _as_json(child)
        else:
            row[tag] = child.text or None
            for name, value in child.attrib.items():
                row[f"{tag}_{_local(name)}"] = value
    for tag, count in tags.items():
        if count > 1:
            row[tag] = [_as_json(child) for child in elements if _local(child.tag) == tag]
    return row


def _as_json(elem: ET.Element) -> Any:
    """An element's content as JSON: text for a plain leaf, else an object (repeated children as lists)."""
    value: dict[str, Any] = {f"@{_local(name)}": text for name, text in elem.attrib.items()}
    elements = list(elem)
    if not elements and not value:
        return elem.text
    for child in elements:
        tag, item = _local(child.tag), _as_json(child)
        if tag not in value:
            value[tag] = item
        elif isinstance(value[tag], list):  # items are never lists themselves: this is a repeat
            value[tag].append(item)
        else:
            value[tag] = [value[tag], item]
    if elem.text and (not elements or elem.text.strip()):
        value["#text"] = elem.text
    return value
