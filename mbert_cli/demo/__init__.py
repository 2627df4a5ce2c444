"""`mbert demo`: the whole chain on the shipped data, stage by stage, resumable."""
