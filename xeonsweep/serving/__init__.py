"""MLPerf LoadGen scenarios (single_stream, server) on a prepared backend, in the child.

`sut` holds the system under test (dynamic batching), `loadgen` LoadGen's
settings, its run and its logs, `peak` the search for the highest QPS under the
SLO, `serve` what one instance does for a run.
"""
