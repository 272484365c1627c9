import json
from typing import Any

from f1common.json_paths import matching_paths


def _is_none(container: Any, key: Any, item: Any) -> bool:
    return item is None


def test_paths_name_object_keys_and_list_indexes_in_document_order() -> None:
    doc = {"a": None, "b": [1, None, {"c": None}], "d": {"e": 0}}
    assert list(matching_paths(doc, _is_none)) == ["/a", "/b/1", "/b/2/c"]
    assert list(matching_paths(doc, _is_none, "/root")) == ["/root/a", "/root/b/1", "/root/b/2/c"]


def test_a_matching_entry_is_not_searched_and_decode_opens_each_value() -> None:
    doc = {"hit": {"hit": 1}, "text": '{"hit": 2}'}

    def is_hit(container: Any, key: Any, item: Any) -> bool:
        return key == "hit"

    assert list(matching_paths(doc, is_hit)) == ["/hit"]

    def decode(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    assert list(matching_paths(doc, is_hit, decode=decode)) == ["/hit", "/text/hit"]
    assert list(matching_paths("scalar", is_hit)) == []
