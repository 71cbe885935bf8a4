"""Draw the dashboard's panels from a Prometheus's data into one PNG (matplotlib).

    python deploy/grafana/render.py --prometheus http://127.0.0.1:9090 --minutes 5 \
        --out docs/dashboard.png

No Grafana is needed: each panel's queries of deploy/grafana/dashboards/scorer.json are
run as range queries (Grafana's `$__rate_interval` replaced by --rate-window) and drawn
in the dashboard's grid order. tests/integration/test_prometheus.py draws the picture in
docs/ from its run (RENDER_DASHBOARD_PNG=docs/dashboard.png).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).resolve().parent / "dashboards" / "scorer.json"


def dashboard_panels(path: Path = DASHBOARD) -> list[dict[str, Any]]:
    """The dashboard's time-series panels, in grid order."""
    panels = json.loads(path.read_text())["panels"]
    found = [p for p in panels if p["type"] == "timeseries"]
    return sorted(found, key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))


def promql(expr: str, rate_window: str) -> str:
    """A dashboard expression as plain PromQL (Grafana's variables replaced)."""
    return expr.replace("$__rate_interval", rate_window)


def query_range(
    prometheus: str, expr: str, start: float, end: float, step: float
) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    url = f"{prometheus}/api/v1/query_range?{params}"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - operator's URL
        body = json.load(response)
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body.get('error', body)}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _legend(template: str, labels: dict[str, str]) -> str:
    text = template
    for name, value in labels.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def render_png(
    prometheus: str,
    out: Path,
    start: float,
    end: float,
    rate_window: str = "1m",
    columns: int = 3,
) -> list[str]:
    """Draw every panel; returns the titles of panels whose queries had no data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = dashboard_panels()
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(6 * columns, 3.4 * rows), squeeze=False)
    step = max(1.0, (end - start) / 300)
    empty = []
    for axis, panel in zip(axes.flat, panels, strict=False):
        drawn = 0
        for target in panel["targets"]:
            expr = promql(target["expr"], rate_window)
            for series in query_range(prometheus, expr, start, end, step):
                points = [(float(t) - end, float(v)) for t, v in series["values"]]
                points = [(t, v) for t, v in points if math.isfinite(v)]
                if not points:
                    continue
                xs, ys = zip(*points, strict=True)
                label = _legend(target.get("legendFormat", ""), series["metric"]) or expr
                axis.plot(xs, ys, label=label, linewidth=1.4)
                drawn += 1
        unit = panel["fieldConfig"]["defaults"].get("unit", "")
        axis.set_title(f"{panel['title']} ({unit})" if unit else panel["title"], fontsize=11)
        axis.set_xlabel("seconds before the end of the run", fontsize=8)
        axis.tick_params(labelsize=8)
        axis.grid(alpha=0.3)
        if drawn:
            axis.legend(fontsize=7, loc="upper left")
        else:
            empty.append(panel["title"])
            axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes)
    for axis in list(axes.flat)[len(panels) :]:
        axis.axis("off")
    figure.suptitle("Lead scorer dashboard (panels of deploy/grafana/dashboards/scorer.json)")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=80)
    plt.close(figure)
    return empty


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--minutes", type=float, default=15.0, help="Time range drawn.")
    parser.add_argument("--rate-window", default="1m", help="Replaces $__rate_interval.")
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard.png"))
    args = parser.parse_args(argv)
    end = time.time()
    empty = render_png(args.prometheus, args.out, end - args.minutes * 60, end, args.rate_window)
    print(f"wrote {args.out}" + (f"; no data: {', '.join(empty)}" if empty else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
