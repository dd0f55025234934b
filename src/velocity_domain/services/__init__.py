"""The use cases: the route families grouped by domain, each method taking a Principal first."""
