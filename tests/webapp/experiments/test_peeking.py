"""Continuous monitoring, simulated (peeking.py, through the web app's own functions):
500 experiments, a look after every batch of visitors. Under A/A the sequential test and the
canary guard stay within their 5%, while the fixed-horizon test peeked at the same times
does not; a real effect is still found."""

from tests.webapp.experiments import peeking

EXPERIMENTS = 500


def test_sequential_test_keeps_false_positives_under_peeking_below_five_percent():
    rates = peeking.page(EXPERIMENTS, batch=100)
    assert rates.looks == 20
    assert rates.sequential <= 0.05
    assert rates.fixed >= 0.15  # the peeking problem: several times the nominal 5%


def test_sequential_test_detects_a_real_effect():
    # Feedback rate +5 points for B (50% against 55% on average), 2000 visitors per arm.
    rates = peeking.page(EXPERIMENTS, batch=100, lift=0.05)
    assert rates.sequential >= 0.8  # power by the last look


def test_guard_rarely_rolls_back_a_b_like_a_and_catches_a_worse_one():
    same = peeking.guard(EXPERIMENTS, batch=200)
    assert same.sequential <= 0.05
    worse = peeking.guard(200, batch=200, correct_lift=-0.10)
    assert worse.sequential >= 0.8


def test_guard_catches_a_slower_b_on_its_p95_latency():
    slower = peeking.guard(200, batch=200, slowdown=1.3)
    assert slower.sequential >= 0.8
