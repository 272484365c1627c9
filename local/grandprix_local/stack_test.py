"""The embedded moto server: its per-request backend lookup reads moto's module list once."""

from __future__ import annotations

from moto import backends

from grandprix_local.stack import moto_module_list_cached


def test_the_module_list_is_read_once_and_restored() -> None:
    original = backends.list_of_moto_modules
    expected = list(original())
    with moto_module_list_cached():
        first = backends.list_of_moto_modules()
        assert list(first) == expected and "s3" in expected
        assert backends.list_of_moto_modules() is first  # the same list each request, not a directory scan
    assert backends.list_of_moto_modules is original
