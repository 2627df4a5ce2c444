"""Model building on tf-models-official (imports TensorFlow only when a builder is called)."""
