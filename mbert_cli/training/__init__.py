"""Training: teacher pre-training, layer-wise distillation of the student, fine-tuning.

Modules: `losses` (pure TF loss functions), `stages` (the student's stage schedule),
`run_dir` (run folder, lock, metrics), `checkpoints`, `progress`, `optim`, `distribute`,
`inputs` (data), `loop` (the shared step loop), `teacher`, `student`, `finetune`,
`evaluate`. TensorFlow is imported inside functions so importing this package is cheap.
"""
