"""Running the console in production: health probes, Prometheus metrics, structured logs (issue 13)."""
