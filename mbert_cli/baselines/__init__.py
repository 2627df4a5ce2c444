"""Non-neural reference points for the task metrics: what a reader compares mbert's models to."""
