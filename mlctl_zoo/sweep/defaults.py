"""The sweep's defaults that the CLI shows in its options, in a module that imports nothing."""

FLAT_THRESHOLD = 0.5  # points per doubling below which a curve counts as flat
