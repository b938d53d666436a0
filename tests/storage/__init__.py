"""Storage tests: recording reviews, history across revisions, migrations."""
