"""Grand Prix Insights Grafana dashboards: generated with grafanalib, validated, provisioned and previewed."""
