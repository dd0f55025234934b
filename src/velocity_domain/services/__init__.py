"""The use cases: one module per route family, each method taking a Principal first."""
