"""`mbert train finetune`: task fine-tuning with AdamW, optionally with task distillation.

Classification here, SQuAD in `squad.py`, both `FineTuneTask`s (`finetune_base.py`) on the
one runner. With `--distill-from RUN` the classification loss is (1 - w) * cross-entropy +
w * KD against the fine-tuned model of RUN (same task), w = finetune.distill_weight (0.5
when unset); RUN's logits on the training examples are computed once per run and cached
(`soft_labels.py`). Writes runs/NAME/finetune-<task>/ (checkpoints, best by validation
accuracy/F1, metrics).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mbert_cli.config.run import RunConfig
from mbert_cli.data import transfer_set as ts
from mbert_cli.data.classification import ClassificationExample
from mbert_cli.data.task_sets import task_tokenizer
from mbert_cli.errors import MbertError
from mbert_cli.modeling import models
from mbert_cli.training import losses
from mbert_cli.training import soft_labels as sl
from mbert_cli.training.checkpoints import restore_for_inference, stage_checkpoint_path
from mbert_cli.training.evaluate import evaluate_classification
from mbert_cli.training.finetune_base import FineTuneTask, init_checkpoint
from mbert_cli.training.finetune_options import check_options
from mbert_cli.training.inputs import classification_data, dataset_arrays
from mbert_cli.training.runner import StageContext, run_stage, shard
from mbert_cli.training.squad import SquadTask


class ClassificationTask(FineTuneTask):
    """Sentence classification: cross-entropy (+ KD from a fine-tuned teacher); best by accuracy."""

    resuming = "fine-tuning"

    def __init__(self, cfg: RunConfig, init_path: str | None, data: str | None, distill_from: str | Path | None):
        super().__init__(cfg, "classification", init_path)
        self.data, self.distill_from = data, distill_from
        self.weight = cfg.finetune.distill_weight or (0.5 if distill_from else 0.0)
        self.teacher, self.soft = None, None

    def prepare(self, ctx: StageContext) -> None:
        """The task's rows and labels; the config records the task, its classes and its data."""
        cfg, ft = self.cfg, self.cfg.finetune
        self.train, self.validation, self.labels, self.make = classification_data(cfg, self.data, ft.max_examples)
        ft.task, ft.num_classes = "classification", len(self.labels)
        if self.data:
            cfg.data.task_data = str(self.data)
        self.steps = ft.steps or max(1, math.ceil(ft.epochs * len(self.train) / ft.batch_size))

    def build_model(self, ctx: StageContext):
        if self.distill_from:
            teacher_cfg, self.teacher, _ = restore_for_inference(self.distill_from, self.name)
            self.teacher_checkpoint = stage_checkpoint_path(Path(self.distill_from), self.name, "latest")
            if teacher_cfg.finetune.num_classes != len(self.labels):
                raise MbertError(f"--distill-from {self.distill_from} predicts {teacher_cfg.finetune.num_classes} "
                                 f"classes, this task has {len(self.labels)}",
                                 hint="distill from a model fine-tuned on the same data")
        return super().build_model(ctx)

    def build_head(self, encoder):
        return models.build_classifier(self.cfg.encoder, len(self.labels), encoder=encoder)[0]

    def data_summary(self) -> str:
        return f"{len(self.train)} train / {len(self.validation)} validation examples"

    def task_record(self) -> dict:
        return {"task": self.task, "labels": self.labels, "init": super().task_record()["init"],
                "distill_from": str(self.distill_from) if self.distill_from else None,
                "distill_weight": self.weight, "steps": self.steps}

    def build_inputs(self, ctx: StageContext, phase, input_context, batch_size: int, seed: int):
        if self.teacher is None:
            return shard(self.make(self.train, batch_size, True, seed, by_length=self.cfg.data.group_by_length),
                         input_context)
        if self.soft is None:  # the teacher's logits on every example, once per run (cached on disk)
            features, labels = self.transfer_set(ctx)
            logits = sl.soft_labels(self.teacher, self.teacher_checkpoint, features, labels,
                                    ctx.stage.path / sl.CACHE_NAME, ctx.say, write=ctx.dist.is_chief)
            self.soft = (features, labels, logits)
        by_length = self.cfg.data.seq_len if self.cfg.data.group_by_length else 0
        return shard(sl.with_soft_labels(*self.soft, batch_size, seed, by_length=by_length), input_context)

    def transfer_set(self, ctx: StageContext):
        """The labelled training rows, then the teacher-only rows of finetune.transfer_* (label UNLABELLED)."""
        ft = self.cfg.finetune
        features, labels = dataset_arrays(self.make(self.train, 64, False))
        parts, n_labelled = [features], len(labels)
        if ft.transfer_masked_copies:
            mask_id = task_tokenizer(self.cfg).mask_id
            parts.append(ts.masked_copies(features, ft.transfer_masked_copies, mask_id, seed=self.cfg.seed))
        if ft.transfer_unlabelled:
            sentences = ts.unlabelled_sentences(ft.transfer_unlabelled)
            examples = [ClassificationExample(text, None, 0) for text in sentences]
            parts.append(dataset_arrays(self.make(examples, 64, False))[0])
        if len(parts) == 1:
            return features, labels
        merged = {name: np.concatenate([p[name] for p in parts]) for name in features}
        total = len(merged["input_word_ids"])
        ctx.say(f"Transfer set: {n_labelled} labelled sentences + {total - n_labelled} the teacher labels alone "
                f"({ft.transfer_masked_copies} masked copies each, unlabelled: {ft.transfer_unlabelled or 'none'}).")
        return merged, np.concatenate([labels, np.full(total - n_labelled, ts.UNLABELLED, labels.dtype)])

    def build_losses(self, ctx: StageContext, phase):
        def teacher_fn(batch):  # the cached soft labels ride along with each example
            return batch[2]

        def loss_fn(batch, teacher_logits=None):
            logits = self.outputs(batch[0], training=True)["logits"]
            return losses.finetune_classification_loss(logits, batch[1], teacher_logits, self.weight)

        return loss_fn, (teacher_fn if self.teacher is not None else None)

    def best_metric(self, phase) -> str | None:
        return "accuracy"

    def evaluate(self, ctx: StageContext) -> dict:
        return evaluate_classification(self.model, self.make(self.validation, ctx.per_replica, False,
                                                             by_length=self.cfg.data.group_by_length))


def train_finetune(run: str | Path, cfg: RunConfig, init: str | Path | None, task: str = "classification", *,
                   data: str | None = None, distill_from: str | Path | None = None, distribution: str = "default",
                   progress: bool = True, say=print) -> dict:
    """Fine-tunes (or resumes) `task` from the `init` stage; returns a summary with validation metrics.

    `init=None` fine-tunes from random weights: the from-scratch baseline that shows what
    pre-training and distillation are worth (classification only).
    """
    check_options(task, init, distill_from)
    init_path = init_checkpoint(init)
    if task == "squad":
        spec = SquadTask(cfg, init_path, data)
    else:
        spec = ClassificationTask(cfg, init_path, data, distill_from)
    return run_stage(spec, run, cfg, distribution=distribution, progress=progress, say=say)
