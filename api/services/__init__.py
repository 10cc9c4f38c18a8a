"""Domain functions behind the routes: they take a session and plain values, raise the
exceptions in `errors`, and never build HTTP responses."""
