"""Developer tooling: building the scratch kernel tree, benchmarks' helpers."""
