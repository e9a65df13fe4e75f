"""
Polynomial fitting with numpy
=============================

Fit polynomials of increasing degree with ``np.polyfit`` and evaluate them with
``np.poly1d``.
"""
import numpy as np
from numpy.random import default_rng


def true_fun(x):
    return np.cos(1.5 * np.pi * x)


rng = default_rng(0)
x = np.sort(rng.random(30))
y = true_fun(x) + rng.standard_normal(30) * 0.1
x_test = np.linspace(0, 1, 9)

for degree in [1, 3, 5, 9]:
    coeffs = np.polyfit(x, y, degree)
    p = np.poly1d(coeffs)
    mse = np.mean((p(x_test) - true_fun(x_test)) ** 2)
    print(f"degree {degree}: test MSE = {mse:.5f}, p(0.5) = {p(0.5):.5f}")

p = np.poly1d([1, -6, 11, -6])
print(p)
print("roots:", np.round(np.sort(p.roots), 6))
print("p(2.5) =", p(2.5), "p at array:", p(np.arange(5)))
dp = p.deriv()
print("derivative:", dp.coeffs, "integral:", np.round(p.integ().coeffs, 4))
q = p * np.poly1d([1, 1]) - 2 * p
print("order of q:", q.order, "q(1.5) =", q(1.5))
quot, rem = np.polydiv(p.coeffs, [1, -1])
print("p / (x - 1):", quot, "remainder:", rem)
print("polyval:", np.polyval([3, 0, 1], [1, 2, 3]))

P = np.polynomial.Polynomial.fit(x, y, 4)
print("Polynomial.fit coef (window):", np.round(P.convert().coef, 4))
print("evaluate at 0.25:", round(float(P(0.25)), 6))
