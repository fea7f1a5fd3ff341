"""`make bench`: the machine's limits and the pipelines, measured side by side in one run."""
