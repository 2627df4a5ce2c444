"""Training: teacher pre-training, layer-wise distillation of the student, fine-tuning.

Every stage is a `runner.StageTask` run by `runner.run_stage` (see ARCHITECTURE.md):
`teacher`, `student` (with `stages`, `distiller`, `teachers`, `weight_init`, `forward`,
`compat`), `finetune` and `squad` (on `finetune_base`). Shared parts: `loop` (the step
loop), `checkpoints` (the one restore API, also used by export), `run_dir`, `progress`,
`optim`, `distribute`, `precision`, `inputs`, `losses`, `evaluate`, `session`.
Importing this package is cheap; its modules import TensorFlow at their top, and the CLI
imports them inside its commands (the lazy point), so `mbert --help` stays fast.
"""
