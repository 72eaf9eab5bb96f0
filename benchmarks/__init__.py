"""`make bench`: throughput figures measured in one run on the embedded stack."""
