"""mbert: MobileBERT from training to a phone.

This package must stay cheap to import: `mbert --help` answers without TensorFlow.
"""

__version__ = "0.1.0"
