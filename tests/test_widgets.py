"""The notebook's ipywidgets demos: set a control, check the callback's result."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from zerolib.experiments import toy_outliers as toy
from zerolib.models.exact import min01_line
from zerolib.experiments.widgets import CornerDemo, OutlierDemo


@pytest.fixture
def outlier_demo():
    demo = OutlierDemo(seed=0)
    yield demo
    demo.figure.clear()


def test_outlier_demo_starts_with_fig2a(outlier_demo):
    r = outlier_demo.result
    assert r["errors_01"] == 1 and r["errors_hinge"] == 2
    assert "errors" in outlier_demo.summary.value
    assert outlier_demo.figure.axes  # drawn


def test_outlier_slider_recomputes_both_lines(outlier_demo):
    demo = outlier_demo
    before = demo.result
    demo.x_slider.value = 3.0  # the outlier now sits inside class 1's cluster
    r = demo.result
    assert r is not before
    d = r["data"]
    assert np.allclose(d.X[d.is_outlier][0], [3.0, toy.DEFAULT_OUTLIER[1]])
    assert r["errors_01"] == min01_line(d.X, d.y).errors
    w, b = toy.hinge_line(d.X, d.y)
    assert np.allclose(r["hinge"][0], w) and np.isclose(r["hinge"][1], b)


def test_far_outlier_tilts_the_hinge_more(outlier_demo):
    demo = outlier_demo
    demo.x_slider.value, demo.y_slider.value = -2.0, 2.0
    near = demo.result["angle"]
    demo.x_slider.value, demo.y_slider.value = -14.0, 14.0
    far = demo.result["angle"]
    assert far > near + 10
    assert demo.result["errors_01"] == 1


def test_outlier_count_slider(outlier_demo):
    demo = outlier_demo
    demo.n_slider.value = 3
    d = demo.result["data"]
    assert d.is_outlier.sum() == 3
    assert demo.result["errors_01"] == min01_line(d.X, d.y).errors
    demo.n_slider.value = 0  # the clean set: both lines separate it
    assert demo.result["errors_01"] == 0 and demo.result["errors_hinge"] == 0


def test_corner_demo():
    demo = CornerDemo()
    r0 = demo.result
    assert r0["logistic_class"] == 1 and r0["sign_class"] == 1
    demo.slider.value = 0.9
    r = demo.result
    assert r["logistic_class"] == 0  # crossed the hidden boundary ...
    assert r["sign_class"] == 1 and np.array_equal(r["sign"], [1.0, 1.0])  # ... sign did not move
    demo.slider.value = 1.0
    assert np.allclose(demo.result["logistic"], 0.5, atol=1e-6)
    assert np.allclose(demo.result["position"], toy.CORNER_NODES.corner)
    assert len(demo.figure.axes) == 3
    demo.figure.clear()


def test_widget_boxes_show_the_redrawn_figure():
    import ipywidgets as W

    od, cd = OutlierDemo(), CornerDemo()
    assert isinstance(od.widget, W.Box) and isinstance(cd.widget, W.Box)
    assert od.image in od.widget.children and cd.image in cd.widget.children
    for demo, control, value in ((od, od.x_slider, -4.0), (cd, cd.slider, 0.5)):
        before = bytes(demo.image.value)
        assert before.startswith(b"\x89PNG")
        control.value = value
        after = bytes(demo.image.value)
        assert after.startswith(b"\x89PNG") and after != before


def test_transfer_explorer_predicts_and_redraws():
    import torch

    from zerolib import SCD01Classifier, load_dataset
    from zerolib.experiments.common.transfer import paper_attack
    from zerolib.experiments.widgets import TransferExplorer

    d = load_dataset("digits", classes=[0, 1])
    scd = SCD01Classifier(n_votes=1, n_iter=30, random_state=0, device="cpu").fit(d.x_train, d.y_train)
    demo = TransferExplorer({"SCD01": scd}, {"SCD01": scd}, d.x_test, d.y_test, d.x_test.shape[1:], eps=0.0)
    clean = int(scd.predict(d.x_test[:1].reshape(1, -1))[0])
    assert demo.result == {"clean": {"SCD01": clean}, "SCD01": {"SCD01": clean}}  # eps 0: no change
    first_png = demo.image.value
    demo.eps_slider.value = 0.5
    adv = paper_attack(scd, 0.5)(d.x_test[:1], d.y_test[:1])
    assert demo.result["SCD01"]["SCD01"] == int(scd.predict(adv.reshape(1, -1))[0]) != int(d.y_test[0])
    assert demo.image.value != first_png and "eps 0.500" in demo.summary.value
    demo.index_slider.value = 5
    assert demo.result["clean"]["SCD01"] == int(scd.predict(d.x_test[5:6].reshape(1, -1))[0])
    demo.figure.clear()
