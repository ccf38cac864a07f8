"""A Gaussian process over categorical vectors with an ARD Hamming (overlap) kernel.

``k(a, b) = s² · exp(−Σ_d θ_d · [a_d ≠ b_d])``: two architectures are similar when they agree on the
decisions that matter; θ_d learns how much decision d matters. Hyper-parameters (θ, s², noise) maximise
the log marginal likelihood (L-BFGS-B with analytic gradients, deterministic start), so the fit depends
only on the data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, solve_triangular
from scipy.linalg.lapack import dpotrf, dpotri
from scipy.optimize import minimize

_LOG_BOUNDS_THETA = (np.log(1e-3), np.log(20.0))
_LOG_BOUNDS_SIGNAL = (np.log(0.05), np.log(20.0))
_LOG_BOUNDS_NOISE = (np.log(1e-6), np.log(1.0))


def _one_hot(points: np.ndarray, offsets: np.ndarray, width: int) -> np.ndarray:
    encoded = np.zeros((len(points), width))
    encoded[np.arange(len(points))[:, None], points + offsets] = 1.0
    return encoded


def _mismatch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b), D) boolean array: where the two points differ, per decision."""
    return a[:, None, :] != b[None, :, :]


@dataclass
class HammingGP:
    """A fitted GP; use :func:`fit` to build one."""

    x: np.ndarray
    theta: np.ndarray
    signal: float
    noise: float
    y_mean: float
    y_scale: float
    chol: np.ndarray
    alpha: np.ndarray

    def kernel(self, points: np.ndarray) -> np.ndarray:
        # Σ_d θ_d [a_d ≠ b_d] = Σ_d θ_d − Σ_d θ_d [a_d = b_d]; the matches are one-hot dot products (one GEMM).
        sizes = np.maximum(points.max(axis=0), self.x.max(axis=0)) + 1
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        weights = np.repeat(self.theta, sizes)
        matches = _one_hot(points, offsets, int(sizes.sum())) @ (_one_hot(self.x, offsets, int(sizes.sum())) * weights).T
        return self.signal * np.exp(matches - self.theta.sum())

    def predict(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the latent function, in the units of y."""
        cross = self.kernel(points)
        mean = cross @ self.alpha
        v = solve_triangular(self.chol, cross.T, lower=True)
        variance = np.maximum(self.signal - np.sum(v * v, axis=0), 1e-12)
        return self.y_mean + self.y_scale * mean, self.y_scale * np.sqrt(variance)


def _negative_log_likelihood(params: np.ndarray, mismatch: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    dims = mismatch.shape[2]
    theta, signal, noise = np.exp(params[:dims]), np.exp(params[dims]), np.exp(params[dims + 1])
    correlation = np.exp(-mismatch @ theta)
    k = signal * correlation + noise * np.eye(len(y))
    chol, info = dpotrf(k, lower=1)
    if info != 0:
        return 1e10, np.zeros_like(params)
    inverse, _ = dpotri(chol, lower=1)
    inverse = np.tril(inverse) + np.tril(inverse, -1).T
    alpha = inverse @ y
    value = 0.5 * y @ alpha + np.sum(np.log(np.diag(chol)))
    inner = np.outer(alpha, alpha) - inverse
    weighted = inner * (signal * correlation)
    gradient = np.empty_like(params)
    gradient[:dims] = 0.5 * theta * np.tensordot(weighted, mismatch, axes=([0, 1], [0, 1]))
    gradient[dims] = -0.5 * np.sum(weighted)
    gradient[dims + 1] = -0.5 * noise * np.trace(inner)
    return float(value), gradient


def _standardise(y: np.ndarray) -> tuple[np.ndarray, float, float]:
    mean = float(np.mean(y))
    scale = float(np.std(y)) or 1.0
    return (y - mean) / scale, mean, scale


def fit_hyperparameters(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Log (θ_1..θ_D, s², noise) maximising the marginal likelihood of standardised `y`."""
    mismatch = _mismatch(x, x).astype(float)
    dims = x.shape[1]
    start = np.concatenate([np.full(dims, np.log(0.5)), [0.0, np.log(0.05)]])
    bounds = [_LOG_BOUNDS_THETA] * dims + [_LOG_BOUNDS_SIGNAL, _LOG_BOUNDS_NOISE]
    result = minimize(_negative_log_likelihood, start, args=(mismatch, _standardise(y)[0]), jac=True,
                      method="L-BFGS-B", bounds=bounds, options={"maxiter": 50})
    return result.x


def fit(x: np.ndarray, y: np.ndarray, params: np.ndarray | None = None) -> HammingGP:
    """The GP conditioned on integer points `x` (N, D) and values `y` (N,); `params` default: fitted."""
    if params is None:
        params = fit_hyperparameters(x, y)
    target, y_mean, y_scale = _standardise(y)
    dims = x.shape[1]
    theta, signal, noise = np.exp(params[:dims]), float(np.exp(params[dims])), float(np.exp(params[dims + 1]))
    k = signal * np.exp(-_mismatch(x, x).astype(float) @ theta) + noise * np.eye(len(y))
    chol = np.linalg.cholesky(k)
    alpha = cho_solve((chol, True), target)
    return HammingGP(x, theta, signal, noise, y_mean, y_scale, chol, alpha)
