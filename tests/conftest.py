"""Suite-wide: under DPTRAIN_REQUIRE_REFERENCES=1 (CI) a reference test that would skip because
its peer (torch, keras, scikit-learn, matplotlib) is missing fails instead."""
import os

import pytest

_PEERS = ("torch", "keras", "sklearn", "matplotlib")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or os.environ.get("DPTRAIN_REQUIRE_REFERENCES", "") != "1":
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(p in reason for p in _PEERS) and ("import" in reason or "not installed" in reason):
        report.outcome = "failed"
        report.longrepr = f"{reason} (DPTRAIN_REQUIRE_REFERENCES=1: reference peers must be installed)"
