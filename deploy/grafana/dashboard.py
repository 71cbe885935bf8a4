"""The scorer's Grafana dashboard, as code (grafana-foundation-sdk).

    python deploy/grafana/dashboard.py          # rewrite deploy/grafana/dashboards/scorer.json
    python deploy/grafana/dashboard.py --check  # exit 1 if the committed JSON is stale

The compose stack provisions the JSON (deploy/grafana/provisioning/). Every query here is
run against a real Prometheus scraping a real worker by tests/integration/test_prometheus.py,
which fails if one returns no data.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders.common import VizLegendOptions
from grafana_foundation_sdk.builders.dashboard import Dashboard, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery as PrometheusQuery
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import LegendDisplayMode, LegendPlacement
from grafana_foundation_sdk.models.dashboard import DataSourceRef

OUTPUT = Path(__file__).resolve().parent / "dashboards" / "scorer.json"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
RATE = "$__rate_interval"


@dataclass(frozen=True, slots=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True, slots=True)
class PanelSpec:
    title: str
    unit: str
    description: str
    queries: tuple[Query, ...]


ROWS: tuple[tuple[str, tuple[PanelSpec, ...]], ...] = (
    (
        "Flow",
        (
            PanelSpec(
                "Throughput", "ops", "Input events per second, by result.",
                (Query(f"sum by (result) (rate(scorer_events_total[{RATE}]))", "{{result}}"),),
            ),
            PanelSpec(
                "Consumer lag", "short",
                "Messages not yet consumed, by input topic (all workers).",
                (Query("sum by (topic) (scorer_consumer_lag_messages)", "{{topic}}"),),
            ),
            PanelSpec(
                "p99 latency", "s",
                "99th percentile of event time to scored (lag) and of scoring one event.",
                (
                    Query(
                        "histogram_quantile(0.99, sum by (le) "
                        f"(rate(scorer_event_lag_seconds_bucket[{RATE}])))",
                        "event → scored",
                    ),
                    Query(
                        "histogram_quantile(0.99, sum by (le) "
                        f"(rate(scorer_event_processing_seconds_bucket[{RATE}])))",
                        "processing",
                    ),
                ),
            ),
            PanelSpec(
                "Dead letters by reason", "ops", "Input sent to the dead-letter topic.",
                (Query(f"sum by (reason) (rate(scorer_dead_letters_total[{RATE}]))",
                       "{{reason}}"),),
            ),
        ),
    ),
    (
        "Sales hand-off",
        (
            PanelSpec(
                "Alert rate", "ops", "Hand-off alerts published per second, by kind.",
                (Query(f"sum by (kind) (rate(scorer_alerts_total[{RATE}]))", "{{kind}}"),),
            ),
            PanelSpec(
                "SLA breaches", "short",
                "MQLs without sales feedback by the team's deadline, per interval, by team.",
                (Query(f"sum by (team) (increase(scorer_sla_breaches_total[{RATE}]))",
                       "{{team}}"),),
            ),
            PanelSpec(
                "Hot leads", "short",
                "Leads at or above the lowest hand-off threshold (read model), all workers.",
                (Query("sum(scorer_hot_leads)", "hot leads"),),
            ),
        ),
    ),
    (
        "Workers",
        (
            PanelSpec(
                "RSS", "bytes", "Resident memory of each worker process.",
                (Query('process_resident_memory_bytes{job="scorer"}', "{{instance}}"),),
            ),
            PanelSpec(
                "CPU", "percentunit", "CPU time per second of each worker process.",
                (Query(f'rate(process_cpu_seconds_total{{job="scorer"}}[{RATE}])',
                       "{{instance}}"),),
            ),
            PanelSpec(
                "Open files", "short", "Open file descriptors of each worker process.",
                (Query('process_open_fds{job="scorer"}', "{{instance}}"),),
            ),
            PanelSpec(
                "Redis writes and errors", "ops",
                "Read-model records written and failed flushes per second.",
                (
                    Query(f"sum(rate(scorer_redis_writes_total[{RATE}]))", "writes"),
                    Query(f"sum(rate(scorer_redis_write_errors_total[{RATE}]))", "errors"),
                ),
            ),
        ),
    ),
)  # fmt: skip


def panels() -> list[PanelSpec]:
    return [panel for _, row in ROWS for panel in row]


def _panel(spec: PanelSpec, width: int, panel_id: int) -> Timeseries:
    legend = (
        VizLegendOptions()
        .display_mode(LegendDisplayMode.LIST)
        .placement(LegendPlacement.BOTTOM)
        .show_legend(True)
    )
    panel = (
        Timeseries()
        .id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .unit(spec.unit)
        .datasource(DATASOURCE)
        .min(0)
        .height(8)
        .span(width)
        .legend(legend)
    )
    for ref, query in zip("ABCDEFGH", spec.queries, strict=False):
        panel = panel.with_target(
            PrometheusQuery()
            .ref_id(ref)
            .datasource(DATASOURCE)
            .expr(query.expr)
            .legend_format(query.legend)
        )
    return panel


def build() -> Dashboard:
    dashboard = (
        Dashboard("Lead scorer")
        .uid("lead-scorer")
        .description("Throughput, lag, hand-offs and worker resources of the lead scorer.")
        .tags(["lead-scorer", "generated"])
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
        .readonly()
    )
    panel_id = 0
    for title, row in ROWS:
        panel_id += 1
        dashboard = dashboard.with_row(Row(title).id(panel_id))
        for spec in row:
            panel_id += 1
            dashboard = dashboard.with_panel(_panel(spec, 24 // len(row), panel_id))
    return dashboard


def render() -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(build().build()) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUTPUT.is_file() or OUTPUT.read_text() != text:
            print(f"{OUTPUT} is stale: run python deploy/grafana/dashboard.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
