"""Drawing histogram results: ``Relation.plot()`` and the notebook display of histogram cells.

The histogram aggregates (``hist``, ``hist2d``, ``hist_cat``, ``hist_merge``, …) return UHI JSON
documents. Here they are loaded into ``hist.Hist`` and drawn with mplhep (matplotlib) when it
is installed. In a notebook, a one-row result draws its histograms under the table; without
mplhep the drawing is hist's own SVG; without hist the cell shows only its one-line summary.
Nothing here is imported unless a histogram is drawn or displayed.
"""

from __future__ import annotations

import io
import json
import warnings
from typing import Any

#: The key every UHI document starts with (``uhi_schema: 1``).
_UHI_MARK = '"uhi_schema"'


def is_hist_document(value: Any) -> bool:
    """Whether a result cell holds a histogram document (UHI JSON)."""
    return isinstance(value, str) and value.startswith("{") and _UHI_MARK in value[:64]


def _axis_text(axis: dict) -> str:
    name = (axis.get("metadata") or {}).get("name")
    kind = axis.get("type", "?")
    if kind == "regular":
        text = f"regular({axis.get('bins')}, {axis.get('lower'):g}, {axis.get('upper'):g})"
    elif kind == "variable":
        edges = axis.get("edges") or []
        text = f"variable({max(len(edges) - 1, 0)} bins, {edges[0]:g}…{edges[-1]:g})" if edges else "variable()"
    elif kind in ("category_str", "category_int"):
        text = f"category({len(axis.get('categories') or [])})"
    elif kind == "boolean":
        text = "boolean"
    else:
        text = kind
    return f"{name}: {text}" if name else text


def _total(values: Any) -> float:
    if isinstance(values, list):
        return sum(_total(v) for v in values)
    return float(values) if isinstance(values, (int, float)) else 0.0


def hist_summary(document: str) -> str:
    """One line for a table cell: the axes, the storage and the sum of all bins (flow bins
    included, so it counts every fill, or sums every weight)."""
    try:
        doc = json.loads(document)
        axes = " × ".join(_axis_text(a) for a in doc.get("axes", []))
        storage = doc.get("storage", {})
        total = _total(storage.get("values"))
        kind = storage.get("type", "?")
        what = "entries" if kind == "int" else "sum of weights"
        return f"histogram [{axes}] {kind}, {what} {total:g}"
    except (ValueError, TypeError, AttributeError, IndexError):
        return "histogram (unreadable document)"


def plot_hist(h: Any, ax: Any = None, **kwargs: Any) -> Any:
    """Draws a ``hist.Hist`` with mplhep on ``ax`` (a new figure when None) and returns ``ax``.

    One axis: ``mplhep.histplot``. A category axis and a numeric axis (``hist_cat``): one
    step line per category, with a legend. Two numeric axes (``hist2d``): ``mplhep.hist2dplot``.
    ``kwargs`` go to the mplhep function. Error bars come from the variances (weighted
    storage) or are Poisson (int storage), as mplhep draws them.
    """
    try:
        import hist
        import mplhep
    except ImportError as e:
        raise ImportError("drawing a histogram needs hist, matplotlib and mplhep: pip install hist mplhep") from e
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    axes = list(h.axes)
    categorical = (hist.axis.StrCategory, hist.axis.IntCategory)
    categories = [i for i, a in enumerate(axes) if isinstance(a, categorical)]
    if len(axes) == 1:
        mplhep.histplot(h, ax=ax, **kwargs)
        ax.set_xlabel(axes[0].label or axes[0].name)
    elif len(axes) == 2 and len(categories) == 1:
        c = categories[0]
        cat, numeric = axes[c], axes[1 - c]
        if len(cat) > 0:
            slices = [h[{c: i}] for i in range(len(cat))]
            mplhep.histplot(slices, ax=ax, label=[str(v) for v in cat], **kwargs)
            ax.legend(title=cat.label or cat.name)
        ax.set_xlabel(numeric.label or numeric.name)
    elif len(axes) == 2 and not categories:
        mplhep.hist2dplot(h, ax=ax, **kwargs)
        ax.set_xlabel(axes[0].label or axes[0].name)
        ax.set_ylabel(axes[1].label or axes[1].name)
    else:
        from ._hepq import NotSupportedError

        raise NotSupportedError(
            f"plot() draws histograms with one axis, two numeric axes, or one category and one "
            f"numeric axis; this one has {len(axes)} axes ({', '.join(type(a).__name__ for a in axes)})"
        )
    return ax


def hist_html(h: Any) -> str:
    """The histogram drawn for a notebook: mplhep's figure as inline SVG, or hist's own SVG
    when matplotlib/mplhep are missing. Empty when it cannot be drawn (display never raises)."""
    try:
        from matplotlib.figure import Figure
        import mplhep  # noqa: F401
    except ImportError:
        try:
            return h._repr_html_()
        except Exception:  # noqa: BLE001 - a display hook must not raise
            return ""
    try:
        figure = Figure(figsize=(6.0, 4.0))
        with warnings.catch_warnings():
            # mplhep warns on every int histogram that scipy would give Garwood intervals.
            warnings.simplefilter("ignore", UserWarning)
            plot_hist(h, ax=figure.subplots())
        out = io.StringIO()
        figure.savefig(out, format="svg", bbox_inches="tight")
        svg = out.getvalue()
        start = svg.find("<svg")
        return svg[start:] if start >= 0 else svg
    except Exception:  # noqa: BLE001 - a display hook must not raise
        return ""
