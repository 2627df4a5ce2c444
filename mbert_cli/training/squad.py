"""`mbert train finetune --task squad`: span extraction with AdamW; EM/F1 with the official normalisation.

Data (`data.task_sets.load_squad_splits`): `shipped` builds SQuAD-v1.1-style questions from
the shipped plays (train and dev splits, written once under runs/NAME/data/squad/); a path
is a SQuAD JSON file, split 90/10 by question when no `dev` file sits beside it
(`train.json` -> `dev.json`).
"""

from __future__ import annotations

import math

from mbert_cli.config.run import RunConfig
from mbert_cli.data.squad import squad_dataset
from mbert_cli.data.task_sets import load_squad_splits, squad_windows
from mbert_cli.modeling.models import build_span_labeler
from mbert_cli.training import losses
from mbert_cli.training.evaluate import squad_scores
from mbert_cli.training.finetune_base import FineTuneTask
from mbert_cli.training.runner import StageContext, shard


class SquadTask(FineTuneTask):
    """The span labeler: mean of start and end cross-entropy; best checkpoint by dev F1."""

    resuming = "SQuAD fine-tuning"

    def __init__(self, cfg: RunConfig, init_path: str, data: str | None):
        super().__init__(cfg, "squad", init_path)
        self.data = data

    def prepare(self, ctx: StageContext) -> None:
        """The questions and their windows; the config records the task and its data."""
        ft = self.cfg.finetune
        ft.task = "squad"
        if self.data:
            self.cfg.data.task_data = str(self.data)
        self.train, self.dev = load_squad_splits(self.cfg, self.data, ctx.run)
        self.train_f, self.dev_f = squad_windows(self.cfg, self.train), squad_windows(self.cfg, self.dev)
        self.steps = ft.steps or max(1, math.ceil(ft.epochs * len(self.train_f) / ft.batch_size))

    def build_head(self, encoder):
        return build_span_labeler(self.cfg.encoder, encoder=encoder)[0]

    def data_summary(self) -> str:
        return f"{len(self.train_f)} train windows, {len(self.dev)} dev questions"

    def build_inputs(self, ctx: StageContext, phase, input_context, batch_size: int, seed: int):
        return shard(squad_dataset(self.train_f, batch_size, True, seed).repeat(), input_context)

    def build_losses(self, ctx: StageContext, phase):
        def loss_fn(batch):
            inputs, labels = batch
            out = self.outputs(inputs, training=True)
            return losses.span_loss(out["start_logits"], out["end_logits"], labels["start_positions"],
                                    labels["end_positions"])

        return loss_fn, None

    def best_metric(self, phase) -> str | None:
        return "f1"

    def evaluate(self, ctx: StageContext) -> dict:
        return squad_scores(self.model, self.dev, self.dev_f, ctx.per_replica)
