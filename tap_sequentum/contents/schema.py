"""The JSON schema of a content stream: the `_sdc_` metadata columns plus inferred data columns."""

from __future__ import annotations

from collections.abc import Mapping

from tap_sequentum.contents.infer import Kind, json_schema, kind_from_json_schema, widen

#: Metadata columns every content record carries, in order, with their schemas. Each earns its bytes on
#: every row: the key (`_sdc_file_id`, `_sdc_row_number`), the replication key (`_sdc_run_created`), the
#: join to `runs` (`_sdc_run_id`) and the agent of a merged or unioned table (`_sdc_agent_id`). The file's
#: name is not repeated on every row: `run_files` has it, joined on `_sdc_file_id`.
METADATA: dict[str, dict] = {
    "_sdc_agent_id": {"type": ["integer"]},
    "_sdc_run_id": {"type": ["integer"]},
    "_sdc_run_created": {"type": ["string", "null"], "format": "date-time"},
    "_sdc_file_id": {"type": ["integer"]},
    "_sdc_row_number": {"type": ["integer"]},
}
#: Metadata names no longer emitted (`_sdc_file_name` until 0.1): a catalog that lists them is read without
#: them, and data columns never take them.
RETIRED = ("_sdc_file_name",)
PRIMARY_KEYS = ("_sdc_file_id", "_sdc_row_number")
REPLICATION_KEY = "_sdc_run_created"


def build_schema(columns: Mapping[str, Kind]) -> dict:
    """Schema for data columns of the given kinds (all nullable), after the metadata columns."""
    properties = {name: dict(schema) for name, schema in METADATA.items()}
    for name, kind in columns.items():
        properties[name] = json_schema(kind)
    return {"type": "object", "properties": properties}


def columns_of(schema: Mapping) -> dict[str, Kind]:
    """The data columns a (catalog) schema declares, in order, with their kinds."""
    properties = schema.get("properties") or {}
    return {
        name: kind_from_json_schema(prop if isinstance(prop, dict) else {})
        for name, prop in properties.items()
        if name not in METADATA and name not in RETIRED
    }


def merge_columns(current: Mapping[str, Kind], seen: Mapping[str, Kind]) -> dict[str, Kind]:
    """Widen `current` with what a file showed: new columns are appended, types only ever widen.

    A column with no value yet is declared a string: once a target has a text column it must not
    be asked to turn it into integers later.
    """
    merged = {name: declared(kind) for name, kind in current.items()}
    for name, kind in seen.items():
        merged[name] = widen(merged[name], kind) if name in merged else declared(kind)
    return merged


def declared(kind: Kind) -> Kind:
    """The kind a column is declared with: an all-empty column is a string column."""
    return Kind.STRING if kind is Kind.NULL else kind


def widening(before: Mapping[str, Kind], after: Mapping[str, Kind]) -> str:
    """What `merge_columns` changed, for the log: `price: integer -> number; note: new (string)`."""
    return "; ".join(
        f"{name}: {before[name].value} -> {kind.value}" if name in before else f"{name}: new ({kind.value})"
        for name, kind in after.items()
        if before.get(name) is not kind
    )
