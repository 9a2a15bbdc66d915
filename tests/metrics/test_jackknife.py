"""benchbox.metrics.jackknife: leave-one-out values against brute force, and the KAD interval's coverage."""

import numpy as np
import pytest

from benchbox.errors import MetricError
from benchbox.metrics import fad as F
from benchbox.metrics import jackknife as J

DIM, N_GEN, N_REF = 32, 32, 20  # the committed studies' set sizes
SHIFTS = (0.1, 0.2, 0.4)  # per-dimension mean shift of the scored set


def test_leave_one_out_values_equal_brute_force():
    rng = np.random.default_rng(0)
    a, ref = rng.normal(size=(7, 4)), rng.normal(size=(6, 4)) + 0.3
    h = F.reference_bandwidth(ref)
    value, drop_a, drop_b = J.kad_leave_one_out(a, ref, h)
    assert value == pytest.approx(F.kad(a, ref), rel=1e-12)
    np.testing.assert_allclose(drop_a, [F.kad(np.delete(a, i, 0), ref, bandwidth=h) for i in range(7)], rtol=1e-10)
    np.testing.assert_allclose(drop_b, [F.kad(a, np.delete(ref, j, 0), bandwidth=h) for j in range(6)], rtol=1e-10)
    value, drop_a, drop_b = J.fad_leave_one_out(a, ref)
    assert value == pytest.approx(F.fad(a, ref), rel=1e-12)
    np.testing.assert_allclose(drop_a, [F.fad(np.delete(a, i, 0), ref) for i in range(7)], rtol=1e-9)
    np.testing.assert_allclose(drop_b, [F.fad(a, np.delete(ref, j, 0)) for j in range(6)], rtol=1e-9)


def test_jackknife_ci_brackets_value_reports_bandwidth_and_refuses_bad_input():
    rng = np.random.default_rng(1)
    a, ref = rng.normal(size=(30, 8)) + 0.5, rng.normal(size=(20, 8))
    kad = J.jackknife_ci(a, ref, "kad")
    assert kad["lo"] < kad["value"] < kad["hi"] and kad["se"] > 0
    assert kad["bandwidth"] == F.reference_bandwidth(ref) and kad["method"] == "jackknife"
    assert kad["value"] == pytest.approx(F.kad(a, ref), rel=1e-12)
    assert kad["hi"] - kad["value"] == pytest.approx(1.959964 * kad["se"], rel=1e-6)
    fad = J.jackknife_ci(a, ref, "fad")
    assert 0.0 <= fad["lo"] < fad["value"] < fad["hi"]
    assert fad["value"] == pytest.approx(F.fad(a, ref), rel=1e-12)
    with pytest.raises(MetricError, match="at least 3 clips"):
        J.jackknife_ci(a[:2], ref)
    with pytest.raises(MetricError, match="unknown jackknife metric"):
        J.jackknife_ci(a, ref, "bleu")


def _expected_kernel(mean_sq: float, var: float, h: float) -> float:
    """E exp(-|z|^2 / (2 h^2)) for z ~ N(m, var I_D), |m|^2 = mean_sq (closed form)."""
    return (h * h / (h * h + var)) ** (DIM / 2) * np.exp(-mean_sq / (2.0 * (h * h + var)))


def _coverage_and_width(reps: int = 100) -> tuple[float, float]:
    """Over seeded repetitions (scored set N(shift, I) against N(0, I), for each of SHIFTS): the share
    of jackknife intervals holding the population KAD at the bandwidth used, and the mean over shifts
    of (mean width) / (the ideal 2 x 1.96 x sd of the estimate over repetitions)."""
    rng = np.random.default_rng(2024)
    hits, widths = 0, []
    for shift in SHIFTS:
        values, spans = [], []
        for _ in range(reps):
            a, ref = rng.normal(size=(N_GEN, DIM)) + shift, rng.normal(size=(N_REF, DIM))
            h = F.reference_bandwidth(ref)
            truth = 2.0 * _expected_kernel(0.0, 2.0, h) - 2.0 * _expected_kernel(DIM * shift**2, 2.0, h)
            ci = J.jackknife_ci(a, ref, "kad", bandwidth=h)
            hits += ci["lo"] <= truth <= ci["hi"]
            values.append(ci["value"])
            spans.append(ci["hi"] - ci["lo"])
        widths.append(np.mean(spans) / (2.0 * 1.96 * np.std(values)))
    return hits / (reps * len(SHIFTS)), float(np.mean(widths))


def test_kad_jackknife_interval_covers_about_95_percent_at_near_ideal_width():
    """Loose bounds that hold on any CPU (the draws are seeded). On these draws the jackknife covers
    0.96 at 1.20x the ideal width; the old bootstrap (duplicate pairs counted) 0.99 at 1.49x."""
    coverage, width = _coverage_and_width()
    assert 0.85 <= coverage <= 0.995
    assert width <= 1.35
