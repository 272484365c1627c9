from __future__ import annotations

from pipeline_bench import split_by_cost


def test_split_by_cost_balances_the_longest_loads_first_and_drops_empty_groups() -> None:
    each = {"2023-01-R": 5.0, "2024-18-R": 4.0, "2025-06-Q": 3.0, "2025-06-S": 3.0, "2022-10-FP1": 1.0}
    groups = split_by_cost(each, 2)
    assert groups == [["2023-01-R", "2025-06-S"], ["2024-18-R", "2025-06-Q", "2022-10-FP1"]]  # 8 s and 8 s
    assert sorted(k for g in groups for k in g) == sorted(each)
    assert split_by_cost({"2023-01-R": 1.0}, 2) == [["2023-01-R"]]
