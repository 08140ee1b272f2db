"""Generation jobs: the wire mapping, scheduling, failure wording and the driver loop."""
