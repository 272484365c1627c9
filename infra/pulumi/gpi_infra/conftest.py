import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Importing pulumi_aws announces every deprecated resource class; none of them is used here.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws.*")
