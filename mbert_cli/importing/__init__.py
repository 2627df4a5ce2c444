"""Import published checkpoints (Hugging Face safetensors, google-research TF1, tf-models TF2) as mbert runs."""
