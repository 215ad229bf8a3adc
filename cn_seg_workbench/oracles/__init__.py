"""Independent references for the tests and benchmarks: a per-domain
BatchNorm (:mod:`.reference`) and a counter of what a CN layer dispatches
(:mod:`.launches`)."""
