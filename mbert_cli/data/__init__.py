"""Data: shipped corpora, WordPiece vocab and tokenizer, MLM+NSP TFRecords, task loaders.

Importing this package is cheap: TensorFlow and tensorflow-text are imported inside the
functions that need them, so `mbert --help` stays fast.
"""
