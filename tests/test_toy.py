"""Paper A's toy examples (Fig. 2): outlier set, hinge vs 01 line, the corner claim."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from zerolib.experiments import toy_outliers as toy
from zerolib.models.exact import count_errors, min01_line


def test_outlier_set_is_deterministic_and_shaped():
    a, b = toy.outlier_set(seed=3), toy.outlier_set(seed=3)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.X, toy.outlier_set(seed=4).X)
    d = toy.outlier_set(n_per_class=10, n_outliers=3, outlier_position=(-5.0, 2.0))
    assert d.X.shape == (23, 2) and d.y.shape == (23,) and d.is_outlier.sum() == 3
    assert np.all(d.y[d.is_outlier] == 1)
    assert np.allclose(d.X[d.is_outlier][0], [-5.0, 2.0])  # the first outlier sits exactly there
    # the clusters do not depend on the outliers
    assert np.array_equal(d.X[:20], toy.outlier_set(n_per_class=10, n_outliers=0).X)


def test_default_set_reproduces_fig2a():
    """Paper's picture: the 01 line misclassifies only the outlier, the hinge line two points."""
    d = toy.outlier_set()
    r = toy.fit_both(d)
    assert r["errors_01"] == 1 == min01_line(d.X, d.y).errors
    assert count_errors(r["exact"].w, r["exact"].b, d.X, d.y) == 1
    assert r["errors_hinge"] == 2
    assert r["angle"] > 10  # the two adversarial directions differ


def test_hinge_line_is_worse_across_seeds():
    for seed in range(10):
        d = toy.outlier_set(seed=seed)
        r = toy.fit_both(d)
        assert r["errors_01"] == min01_line(d.X, d.y).errors == 1  # only the outlier
        assert r["errors_hinge"] > r["errors_01"], seed


def test_hinge_line_convention_and_clean_set():
    clean = toy.outlier_set(n_outliers=0)
    w, b = toy.hinge_line(clean.X, clean.y)
    assert count_errors(w, b, clean.X, clean.y) == 0  # class 1 where w.x + b > 0
    # on the separable clean set, large-C hinge = max margin = the 01 solver's line
    assert toy.normal_angle(w, min01_line(clean.X, clean.y).w) < 1.0


def test_distance_sweep_tilts_hinge_not_01():
    df = toy.distance_sweep([2.0, 8.0, 20.0])
    assert list(df.errors_01) == [1, 1, 1]
    assert np.allclose(df.tilt_01_deg, 0.0, atol=1e-3)
    assert df.tilt_hinge_deg.iloc[-1] > df.tilt_hinge_deg.iloc[0] + 10
    assert df.errors_hinge.iloc[-1] > 1


def test_normal_angle():
    assert toy.normal_angle([1, 0], [2, 0]) == pytest.approx(0.0)
    assert toy.normal_angle([1, 0], [0, 3]) == pytest.approx(90.0)
    assert toy.normal_angle([1, 0], [-1, 0]) == pytest.approx(180.0)
    assert toy.normal_angle([1, 1], [1, 0]) == pytest.approx(45.0)
    with pytest.raises(ValueError):
        toy.normal_angle([0, 0], [1, 0])


def test_hidden_coordinates():
    nodes = toy.CORNER_NODES
    assert np.allclose(toy.hidden_coordinates(nodes.corner, nodes, "logistic"), 0.5)
    z = np.array([[3.0, -2.0]]) @ nodes.W.T + nodes.b
    h = toy.hidden_coordinates([[3.0, -2.0]], (nodes.W, nodes.b), "logistic")
    assert np.allclose(h, 1 / (1 + np.exp(-z)))
    assert np.array_equal(toy.hidden_coordinates([[3.0, -2.0]], nodes, "sign"), (z > 0).astype(float))
    with pytest.raises(ValueError):
        toy.hidden_coordinates([[0.0, 0.0]], nodes, "relu")


def test_corner_claim():
    """Walking toward the corner: logistic coordinates go to (1/2, 1/2) and cross the
    hidden boundary; sign coordinates do not move until the point reaches u or v."""
    nodes, start = toy.CORNER_NODES, toy.CORNER_START
    path = toy.toward_corner(start, nodes.corner, 1001)
    assert np.allclose(path[0], start) and np.allclose(path[-1], nodes.corner)
    z = path @ nodes.W.T + nodes.b
    before = np.all(z > 0, axis=1)  # still strictly inside the wedge (not on u or v)
    assert before[:-1].all() and not before[-1]

    lo = toy.hidden_coordinates(path, nodes, "logistic")
    sg = toy.hidden_coordinates(path, nodes, "sign")
    # logistic: starts in class 1, ends at (1/2, 1/2) in class 0, distance to (1/2, 1/2) shrinks
    assert toy.hidden_side(lo[0]) == 1 and toy.hidden_side(lo[-1]) == 0
    assert np.allclose(lo[-1], 0.5)
    dist = np.linalg.norm(lo - 0.5, axis=1)
    assert np.all(np.diff(dist) < 0)
    flip = np.flatnonzero(toy.hidden_side(lo) == 0)[0]
    assert 0 < flip < len(path) - 1  # crosses the hidden boundary strictly before the corner
    # sign: identical coordinates and class everywhere before reaching u or v
    assert np.all(sg[before] == [1.0, 1.0]) and np.all(toy.hidden_side(sg[before]) == 1)

    # and sign coordinates change exactly when the point crosses u or v
    beyond = toy.toward_corner(start, 2 * nodes.corner - start, 2001)  # straight on past it
    sg_b = toy.hidden_coordinates(beyond, nodes, "sign")
    zb = beyond @ nodes.W.T + nodes.b
    assert np.array_equal(sg_b, (zb > 0).astype(float))
    assert np.array_equal(sg_b[-1], [0.0, 0.0])


def test_corner_table():
    t = toy.corner_table(n_steps=11)
    assert len(t) == 11 and t.logistic_class.iloc[0] == 1 and t.logistic_class.iloc[-1] == 0
    assert (t.sign_class.iloc[:-1] == 1).all()


def test_plots_return_figures():
    d = toy.outlier_set()
    r = toy.fit_both(d)
    fig = toy.plot_boundaries(None, d.X, d.y, {"01 loss (exact)": (r["exact"].w, r["exact"].b),
                                               "hinge (SVM)": r["hinge"]}, d.is_outlier)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) >= 2
    assert len(toy.plot_hidden_space(fraction=0.5).axes) == 3
    assert len(toy.plot_distance_sweep(toy.distance_sweep([2.0, 6.0])).axes) == 2


# ----------------------------------------------------------------- the computed reading and the report's section

def _errors(e01, eh, angle):
    return toy.errors_table({"exact": min01_line(np.array([[0.0, 0], [1, 0]]), np.array([0, 1])),
                             "hinge": (np.array([1.0, 1.0]), 0.0), "errors_01": e01, "errors_hinge": eh,
                             "angle": angle})


def test_errors_table_is_the_fit():
    d = toy.outlier_set()
    r = toy.fit_both(d)
    t = toy.errors_table(r)
    assert list(t.model) == ["01 loss (exact)", "hinge (SVM)"]
    assert list(t.training_errors) == [r["errors_01"], r["errors_hinge"]]
    w = r["hinge"][0] / np.linalg.norm(r["hinge"][0])
    assert np.allclose(t.loc[1, ["w1", "w2"]].astype(float), w)
    assert (t.angle_between_normals_deg == r["angle"]).all()


def test_boundary_reading_follows_the_numbers():
    text = " ".join(toy.boundary_reading(_errors(1, 2, 25.17), 1))
    assert "01 line makes 1 training error " in text and "hinge line makes 2 training errors, more than" in text
    assert "as in the paper's picture" in text and "25.2° apart: differently oriented" in text
    other = " ".join(toy.boundary_reading(_errors(2, 2, 0.4), 2))
    assert "as many as the 01 line" in other and "2 outliers" in other
    assert "the paper's picture has 01 loss (exact) 1 and hinge (SVM) 2" in other
    assert "0.4° apart: oriented alike" in other


def _sweep(tilts, errors_hinge, angles=None):
    n = len(tilts)
    return pd.DataFrame({"distance": 2.0 * np.arange(1, n + 1), "errors_01": [1] * n, "errors_hinge": errors_hinge,
                         "tilt_01_deg": [0.0] * n, "tilt_hinge_deg": tilts,
                         "angle_between_deg": angles if angles is not None else tilts})


def test_sweep_reading_says_rises_falls_and_where():
    steady = toy.sweep_reading(_sweep([5.0, 10.0, 20.0], [1, 1, 3]))
    assert "tilt rises from 5.0° at distance 2 to 20.0° at 6, at every step." in steady[1]
    assert "training errors go from 1 to 3 (most 3); it first makes more errors than the 01 line at distance 6" \
        in steady[2]
    assert "makes 1 training error." in steady[0] and "tilts at most 0.0°" in steady[0]
    bumpy = toy.sweep_reading(_sweep([13.5, 12.0, 11.0, 15.0, 9.0, 30.0], [1] * 6))
    assert "rises from 13.5°" in bumpy[1] and "not steadily: it falls from distance 2 to 6 and from 8 to 10" in bumpy[1]
    assert "it never makes more errors" in bumpy[2]
    falling = toy.sweep_reading(_sweep([20.0, 10.0], [2, 1], angles=[20.0, 0.5]))
    assert "tilt falls from 20.0°" in falling[1]
    assert "0.5° to 20.0° apart" in falling[3] and "does not hold at every distance" in falling[3]


def test_corner_reading_on_the_walk():
    fine = " ".join(toy.corner_reading(toy.corner_table(n_steps=1001)))
    assert "from (0.953, 0.953) to (0.500, 0.500)" in fine
    assert "turns from 1 to 0 between 63.3% and 63.4% of the walk" in fine
    assert "strictly inside the wedge" in fine and "(1.000, 1.000) at every point before the corner" in fine
    coarse = " ".join(toy.corner_reading(toy.corner_table(n_steps=11)))
    assert "between 60.0% and 70.0% of the walk" in coarse
    # a walk whose logistic class flips only once the point has left the wedge
    t = toy.corner_table(n_steps=3)
    t["logistic_class"] = [1, 1, 0]
    t.loc[2, ["sign_h_u", "sign_h_v"]] = [0.0, 0.0]
    assert "once the point has reached u or v" in " ".join(toy.corner_reading(t))


def test_section_reads_the_saved_tables(tmp_path):
    assert toy.section(tmp_path, "digits", {}) is None
    d = toy.outlier_set()
    toy.errors_table(toy.fit_both(d)).to_csv(tmp_path / f"{toy.ERRORS}.csv", index=False)
    toy.distance_sweep([2.0, 20.0]).to_csv(tmp_path / f"{toy.SWEEP}.csv", index=False)
    toy.corner_table(n_steps=11).to_csv(tmp_path / f"{toy.CORNER}.csv", index=False)
    coarse = "\n".join(toy.section(tmp_path, "digits", {"n_outliers": 1}).lines)
    assert "| 01 loss (exact) | 1 |" in coarse and "between 60.0% and 70.0%" in coarse
    toy.corner_table(n_steps=toy.FINE_STEPS).to_csv(tmp_path / f"{toy.CORNER_FINE}.csv", index=False)
    assert "between 63.3% and 63.4%" in "\n".join(toy.section(tmp_path, "digits", {"n_outliers": 1}).lines)
