"""Data: shipped corpora, WordPiece vocab and tokenizer, MLM+NSP TFRecords, task loaders.

Importing this package is cheap (it imports no module of its own); the modules in it import
TensorFlow and tensorflow-text at their top, and the CLI imports them inside its commands.
"""
