"""Benchmarks run by ``pasokh bench``: real processes, real Kafka and MongoDB-wire server, loopback only."""
