"""ipywidgets demos for the notebooks (toy Fig. 2, the transfer explorer), testable without a browser.

Each demo owns its controls, a matplotlib ``Figure`` (not registered with
pyplot, so nothing leaks or is shown twice) and an ``ipywidgets.Image`` holding
that figure as PNG bytes. Every control change calls the public ``update()``,
which recomputes ``self.result`` and redraws; tests set ``demo.x_slider.value``
and read ``demo.result`` and ``demo.image.value``. ``demo.widget`` is the box to
display.

An Image widget rather than an Output widget: redrawing inside an Output widget
makes headless execution (papermill / nbclient) hang now and then, and an Image
also works, and is testable, outside a kernel.
"""

from __future__ import annotations

import io

import ipywidgets as W
from matplotlib.figure import Figure

from zerolib.experiments import toy_outliers as toy

__all__ = ["OutlierDemo", "CornerDemo", "TransferExplorer"]


def _show(image: W.Image, fig: Figure) -> None:
    """Put the figure into the Image widget as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    image.value = buffer.getvalue()


class OutlierDemo:
    """Fig. 2a: move the outlier(s) and watch the hinge line tilt and the 01 line stay.

    ``result`` holds the latest ``toy.fit_both`` output plus the data:
    keys ``data``, ``exact`` (ExactLine), ``hinge`` ((w, b)), ``errors_01``,
    ``errors_hinge``, ``angle`` (degrees between the two normals).
    """

    def __init__(self, seed: int = 0, n_per_class: int = 20, C: float = toy.HINGE_C):
        self.seed, self.n_per_class, self.C = seed, n_per_class, C
        x0, y0 = toy.DEFAULT_OUTLIER
        opts = dict(step=0.25, continuous_update=False, readout_format=".2f")
        self.x_slider = W.FloatSlider(value=x0, min=-16.0, max=6.0, description="outlier x", **opts)
        self.y_slider = W.FloatSlider(value=y0, min=-16.0, max=16.0, description="outlier y", **opts)
        self.n_slider = W.IntSlider(value=1, min=0, max=5, description="outliers", continuous_update=False)
        self.summary = W.HTML()
        self.image = W.Image(format="png")
        self.figure = Figure(figsize=(5.5, 5.0))
        self.result: dict = {}
        for control in (self.x_slider, self.y_slider, self.n_slider):
            control.observe(lambda _change: self.update(), names="value")
        self.widget = W.VBox([W.HBox([self.x_slider, self.y_slider, self.n_slider]),
                              self.summary, self.image])
        self.update()

    def data(self) -> toy.ToySet:
        """The toy set for the controls' current values."""
        return toy.outlier_set(self.n_per_class, self.n_slider.value,
                               (self.x_slider.value, self.y_slider.value), self.seed)

    def update(self) -> dict:
        """Recompute both lines for the current controls, redraw, and return the result."""
        data = self.data()
        result = toy.fit_both(data, C=self.C)
        result["data"] = data
        self.result = result
        self.summary.value = (
            f"01 loss (exact): <b>{result['errors_01']}</b> errors &nbsp; "
            f"hinge (SVM): <b>{result['errors_hinge']}</b> errors &nbsp; "
            f"angle between normals: <b>{result['angle']:.1f}°</b>"
        )
        self.figure.clear()
        ax = self.figure.add_subplot(1, 1, 1)
        lines = {"01 loss (exact)": (result["exact"].w, result["exact"].b),
                 "hinge (SVM)": result["hinge"]}
        errors = {"01 loss (exact)": result["errors_01"], "hinge (SVM)": result["errors_hinge"]}
        toy.plot_boundaries(ax, data.X, data.y, lines, data.is_outlier, errors)
        _show(self.image, self.figure)
        return result


class CornerDemo:
    """Fig. 2b: walk a point toward the corner where u and v cross.

    ``result`` keys: ``fraction``, ``position`` (input point), ``logistic`` and
    ``sign`` (hidden coordinates), ``logistic_class`` and ``sign_class`` (side of
    the hidden boundary h_u + h_v = 1.5; 1 = the class it started in).
    """

    def __init__(self, U=toy.CORNER_NODES, start=toy.CORNER_START):
        self.nodes = toy.as_nodes(U)
        self.start = start
        self.slider = W.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.01,
                                    description="to corner", continuous_update=False)
        self.summary = W.HTML()
        self.image = W.Image(format="png")
        self.figure = Figure(figsize=(13.0, 4.3))
        self.result: dict = {}
        self.slider.observe(lambda _change: self.update(), names="value")
        self.widget = W.VBox([self.slider, self.summary, self.image])
        self.update()

    def update(self) -> dict:
        """Recompute the point's hidden coordinates for the slider, redraw, return the result."""
        f = float(self.slider.value)
        p = (1 - f) * self.start + f * self.nodes.corner
        lo = toy.hidden_coordinates(p, self.nodes, "logistic")
        sg = toy.hidden_coordinates(p, self.nodes, "sign")
        self.result = {
            "fraction": f, "position": p, "logistic": lo, "sign": sg,
            "logistic_class": int(toy.hidden_side(lo)), "sign_class": int(toy.hidden_side(sg)),
        }
        self.summary.value = (
            f"input ({p[0]:.2f}, {p[1]:.2f}) &nbsp; "
            f"logistic h = ({lo[0]:.3f}, {lo[1]:.3f}) → class {self.result['logistic_class']} &nbsp; "
            f"sign h = ({sg[0]:.0f}, {sg[1]:.0f}) → class {self.result['sign_class']}"
        )
        self.figure.clear()
        axes = [self.figure.add_subplot(1, 3, k + 1) for k in range(3)]
        toy.plot_hidden_space(axes, self.nodes, self.start, fraction=f)
        _show(self.image, self.figure)
        return self.result


class TransferExplorer:
    """Table III by hand: one test image, its adversary from each source at a chosen
    eps (paper A's attack for that source), and every target's prediction of each.

    ``sources`` and ``targets`` map names to fitted binary models; ``x`` (N, ...) and
    ``y`` (N,) are the test points, ``image_shape`` the (C, H, W) or (H, W) to draw.
    ``result`` holds, for the current image and eps, ``{source: {target: label}}``
    with the row ``"clean"``; the controls are ``index_slider`` and ``eps_slider``.
    """

    def __init__(self, sources: dict, targets: dict, x, y, image_shape, eps: float = 0.1,
                 max_eps: float = 0.5, seed: int = 0):
        self.sources, self.targets, self.x, self.y = sources, targets, x, y
        self.image_shape, self.seed = tuple(image_shape), seed
        self.index_slider = W.IntSlider(value=0, min=0, max=len(x) - 1, description="test image",
                                        continuous_update=False)
        self.eps_slider = W.FloatSlider(value=eps, min=0.0, max=max_eps, step=0.005, description="eps",
                                        readout_format=".3f", continuous_update=False)
        self.summary = W.HTML()
        self.image = W.Image(format="png")
        self.figure = Figure(figsize=(2.2 * (len(sources) + 1), 2.8))
        self.result: dict = {}
        for control in (self.index_slider, self.eps_slider):
            control.observe(lambda _change: self.update(), names="value")
        self.widget = W.VBox([W.HBox([self.index_slider, self.eps_slider]), self.summary, self.image])
        self.update()

    def _picture(self, x):
        img = x.reshape(self.image_shape).detach().cpu().numpy()
        return img.transpose(1, 2, 0) if img.ndim == 3 and img.shape[0] == 3 else img.reshape(img.shape[-2:])

    def update(self) -> None:
        from zerolib.models.interface import predict
        from zerolib.experiments.common.transfer import paper_attack

        i, eps = int(self.index_slider.value), float(self.eps_slider.value)
        x, y = self.x[i:i + 1], self.y[i:i + 1]
        images = {"clean": x}
        for name, model in self.sources.items():
            images[name] = paper_attack(model, eps, self.seed)(x, y)
        self.result = {s: {t: int(predict(m, xs)[0]) for t, m in self.targets.items()} for s, xs in images.items()}
        self.figure.clear()
        axes = self.figure.subplots(1, len(images))
        for ax, (name, xs) in zip(axes, images.items()):
            ax.imshow(self._picture(xs[0]), cmap="gray", vmin=0, vmax=1)
            wrong = [t for t, label in self.result[name].items() if label != int(y[0])]
            ax.set_title(f"{name}\nfools: {', '.join(wrong) or 'none'}", fontsize=8)
            ax.axis("off")
        rows = "".join(f"<tr><td>{s}</td>" + "".join(f"<td>{p}</td>" for p in preds.values()) + "</tr>"
                       for s, preds in self.result.items())
        head = "".join(f"<th>{t}</th>" for t in self.targets)
        self.summary.value = (f"<b>label {int(y[0])}</b>, eps {eps:.3f}: each target's prediction"
                              f"<table><tr><th>adversary of</th>{head}</tr>{rows}</table>")
        _show(self.image, self.figure)
