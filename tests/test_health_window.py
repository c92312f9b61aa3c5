"""An endpoint's health over the failure window, on the real Health with a clock the test
moves: what makes it down, and when a failure stops counting."""

from __future__ import annotations

from modelyard.stats.health import Health


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _health() -> tuple[Health, Clock]:
    clock = Clock()
    return Health(failure_window=30.0, clock=clock), clock


def test_a_failure_keeps_an_endpoint_down_for_the_window_and_no_longer() -> None:
    health, clock = _health()
    assert not health.is_down("m", "p")
    health.failure("m", "p")
    assert health.is_down("m", "p")
    clock.now += 29.0
    assert health.is_down("m", "p")
    clock.now += 2.1  # past the window and the slice it was counted in
    assert not health.is_down("m", "p")


def test_the_last_outcome_and_the_share_of_failures_decide() -> None:
    health, clock = _health()
    for _ in range(5):
        health.success("m", "p", 0.1)
        clock.now += 0.3
    health.failure("m", "p")
    assert health.is_down("m", "p")  # the last outcome failed
    health.success("m", "p", 0.1)
    assert not health.is_down("m", "p")  # 1 failure in 7 outcomes, the last a success
    flapping, clock = _health()
    for _ in range(5):
        clock.now += 0.3
        flapping.failure("m", "p")
        flapping.success("m", "p", 0.1)
    assert flapping.is_down("m", "p")  # half its outcomes failed, though the last did not


def test_old_outcomes_leave_the_count_as_the_window_moves() -> None:
    health, clock = _health()
    for _ in range(10):
        health.failure("m", "p")
        health.success("m", "p", 0.1)
    assert health.is_down("m", "p")  # half of the outcomes failed
    clock.now += 31.5  # all of them aged out
    health.failure("m", "p")
    health.success("m", "p", 0.1)
    health.success("m", "p", 0.1)
    assert not health.is_down("m", "p")  # 1 in 3 now, the last a success


def test_a_client_error_counts_for_nothing() -> None:
    health, _ = _health()
    health.failure("m", "p", status=400)
    assert not health.is_down("m", "p")
    health.failure("m", "p", status=429)  # keeps it out of first place
    assert health.is_down("m", "p")
