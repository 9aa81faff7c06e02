"""Server bugs these tests have found and that are not fixed yet.

A test that hits one is written as the RFC wants it and marked with
``@known_bug(NAME)``: it is an expected failure, and a strict one, so the day the
bug is fixed the test reports XPASS as a failure and the marker must be removed
(together with the entry here). Races are marked non-strict (they may pass by luck);
remove those markers by hand when the fix lands.

Until crash-on-sigterm-after-storage is fixed, any test's teardown can (rarely) report
"hongyand exited with -11 after SIGTERM": that is this bug, not flakiness of the test.
"""

import pytest

BUGS: dict[str, str] = {
}


def known_bug(name: str, strict: bool = True):
    return pytest.mark.xfail(reason=f"SERVER BUG {name}: {BUGS[name]}", strict=strict)
