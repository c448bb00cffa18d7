"""Small shared helpers: name registries, hashing, atomic file writes, provenance."""
