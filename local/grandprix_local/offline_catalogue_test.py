from pathlib import Path

from f1common.settings import Settings
from f1common.testing import f1data_dir_or_skip
from grandprix_local.offline_catalogue import cached_api_paths, offline_sessions


def test_offline_sessions_are_the_cached_ones(tmp_path: Path) -> None:
    data = f1data_dir_or_skip()
    settings = Settings(f1data_dir=data, fastf1_cache_dir=tmp_path / "cache")
    keys = {s.key for s in offline_sessions(settings, seasons=[2023, 2025])}
    # Parsed-session folders of the shared cache (f1data/README.md) ...
    assert {"2023-01-R", "2023-03-R", "2023-04-SS", "2023-04-S", "2025-01-Q", "2025-02-SQ", "2025-06-R"} <= keys
    # ... and nothing the cache cannot serve.
    assert "2025-07-R" not in keys and "2023-02-R" not in keys
    # sessions the HTTP cache holds only fragments of (2023 Bahrain FP1: its driver list alone) have no laps
    assert "2023-01-FP1" not in keys and "2023-05-R" not in keys
    assert all(k.startswith(("2023", "2025")) for k in keys)


def test_cached_api_paths_read_folders_and_http_cache() -> None:
    paths = cached_api_paths(f1data_dir_or_skip() / "fastf1-cache")
    assert (2023, "2023-03-05_Bahrain_Grand_Prix", "Race") in paths  # a parsed-session folder
    assert (2018, "2018-04-29_Azerbaijan_Grand_Prix", "Race") in paths  # only in the HTTP cache
    assert (2022, "2022-03-27_Saudi_Arabian_Grand_Prix", "Qualifying") in paths  # from FastF1's timing mirror
    assert (2023, "2023-03-05_Bahrain_Grand_Prix", "Practice 1") not in paths  # its driver list alone
    assert all(isinstance(season, int) for season, _, _ in paths)
