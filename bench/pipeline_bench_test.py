from __future__ import annotations

from pipeline_bench import mean_load_by_type, split_by_cost


def test_split_by_cost_balances_the_longest_loads_first_and_drops_empty_groups() -> None:
    each = {"2023-01-R": 5.0, "2024-18-R": 4.0, "2025-06-Q": 3.0, "2025-06-S": 3.0, "2022-10-FP1": 1.0}
    groups = split_by_cost(each, 2)
    assert groups == [["2023-01-R", "2025-06-S"], ["2024-18-R", "2025-06-Q", "2022-10-FP1"]]  # 8 s and 8 s
    assert sorted(k for g in groups for k in g) == sorted(each)
    assert split_by_cost({"2023-01-R": 1.0}, 2) == [["2023-01-R"]]


def test_mean_load_by_type_averages_each_session_over_the_runs_then_the_sessions_of_a_type() -> None:
    runs = [
        {"2023-01-R": 1.0, "2024-18-R": 2.0, "2025-06-Q": 0.5, "2022-10-FP1": 0.9},
        {"2023-01-R": 3.0, "2024-18-R": 2.0, "2025-06-Q": 0.7},  # a session missing from a run: its other runs count
    ]
    assert mean_load_by_type(runs) == {"R": (2.0, 2), "FP1": (0.9, 1), "Q": (0.6, 1)}  # the longest first
    assert mean_load_by_type([]) == {}
