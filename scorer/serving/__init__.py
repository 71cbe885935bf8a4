"""Read side: Redis read model, Prometheus metrics, HTTP views."""
