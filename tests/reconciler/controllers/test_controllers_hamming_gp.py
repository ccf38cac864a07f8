"""The Hamming-kernel GP behind `bayesopt`: gradients, interpolation, ranking."""
from __future__ import annotations

import numpy as np
from scipy.optimize import check_grad

from reconciler.controllers import hamming_gp


def _data(seed: int, n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, size=(n, 4))
    y = x[:, 0] * 1.0 + 0.5 * x[:, 1] + rng.normal(0, 0.05, n)
    return x, y


def test_likelihood_gradient_matches_finite_differences() -> None:
    x, y = _data(0)
    mismatch = (x[:, None, :] != x[None, :, :]).astype(float)
    target = (y - y.mean()) / y.std()
    params = np.array([-0.5, 0.2, -1.0, 0.0, 0.3, np.log(0.05)])
    error = check_grad(lambda p: hamming_gp._negative_log_likelihood(p, mismatch, target)[0],
                       lambda p: hamming_gp._negative_log_likelihood(p, mismatch, target)[1], params)
    assert error < 1e-4


def test_fit_learns_which_decisions_matter_and_interpolates() -> None:
    x, y = _data(1, 60)
    model = hamming_gp.fit(x, y)
    assert model.theta[0] > model.theta[3] and model.theta[1] > model.theta[3]
    mean, std = model.predict(x)
    assert np.corrcoef(mean, y)[0, 1] > 0.95
    unseen = np.array([[4, 4, 0, 0], [0, 0, 4, 4]])
    unseen_mean, unseen_std = model.predict(unseen)
    assert unseen_mean[0] > unseen_mean[1]
    assert (std >= 0).all() and (unseen_std > 0).all()
