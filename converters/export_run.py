"""`export_run()`: a run directory -> verified TFLite files and manifest.json.

Cheap checks (modes, sequence length, output folder, checkpoint presence) run before the
model is built, so a bad command fails in a second and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from converters import app_metadata
from converters.converter import ConvertedFile, ExportOptions, check_modes, check_writable, convert, write_files
from converters.data import for_run
from converters.export_model import restore_for_export
from converters.lengths import parse_lengths
from converters.manifest import git_commit, versions
from converters.mixed_precision import SearchBudget
from converters.opt_substitution import substitute
from converters.quant_diagnosis import check_explainable
from converters.quant_diagnosis import write as write_diagnosis
from converters.signatures import SIGNATURE_KEY
from mbert_cli.errors import MbertError
from mbert_cli.training import checkpoints


@dataclass
class ExportReport:
    """What an export produced."""

    out_dir: Path
    manifest: Path
    files: list[ConvertedFile]
    stage: str
    opt: dict | None = None  # the OPT substitution report, when --opt ran
    data_source: str = ""


def export_run(run_dir: str | Path, *, stage: str | None = None, options: ExportOptions | None = None,
               out_dir: str | Path | None = None, opt: bool = False, recovery_steps: int | None = None,
               parity_examples: int | None = None, metric_examples: int | None = None, data=None,
               settings: dict | None = None, progress: Callable[[str], None] | None = None,
               app: bool | None = None) -> ExportReport:
    """Rebuilds the run's model, optionally applies the OPT pass, converts, verifies, writes.

    Args:
        run_dir: a run folder (config.yaml + <stage>/checkpoints).
        stage: student | teacher | finetune-classification | finetune-squad; default the most finished.
        options: modes, seq len, gates (ExportOptions); default `options_from_config(run's export config,
            **settings)`.
        out_dir: where files go; default `<run_dir>/export`.
        opt: substitute LayerNorm/GELU by NoNorm/ReLU (with recovery distillation) first.
        recovery_steps: OPT recovery distillation steps (default: the run's export config).
        parity_examples: held-out rows for parity (synthetic-data stages).
        metric_examples: validation rows for parity and the task metric (task-data stages).
        data: an ExportData to use instead of the run's own data (tests, notebooks).
        settings: command-line values over the run's export config (see `options_from_config`).
        progress: receives one line per step.
        app: app-ready files (MediaPipe metadata, int32 inputs, probabilities/embedding out):
            None = wherever the stage allows it, True = required, False = off
            (`converters.app_metadata.spec_for_run`).
    """
    say = progress or (lambda _msg: None)
    run_dir = Path(run_dir)
    config = checkpoints.open_run(run_dir)
    ec = config.export
    options = options or options_from_config(ec, max_len=config.encoder.max_sequence_length, **(settings or {}))
    options.modes = check_modes(options.modes)
    if options.explain:
        check_explainable(options.modes)
    if options.seq_len <= 0 or options.seq_len > config.encoder.max_sequence_length:
        raise MbertError(f"sequence length {options.seq_len} is outside 1..{config.encoder.max_sequence_length} "
                         "(the model's position table)",
                         hint=f"use --seq-len {min(128, config.encoder.max_sequence_length)} or another value up to "
                              f"{config.encoder.max_sequence_length}")
    if options.representative <= 0:
        raise MbertError("--representative must be positive", hint="100 examples is a good default")
    n_held = ec.parity_examples if parity_examples is None else parity_examples
    n_metric = ec.metric_examples if metric_examples is None else metric_examples
    if n_held <= 0 or n_metric <= 0:  # 0 is a value: refused, never swapped for the config's default
        raise MbertError(f"parity examples ({n_held}) and metric examples ({n_metric}) must be positive",
                         hint="pass --parity-examples / --metric-examples 1 or more")
    out = check_writable(out_dir if out_dir is not None else run_dir / "export")
    stage = checkpoints.check_stage(stage or checkpoints.default_stage(run_dir))
    checkpoints.stage_checkpoint_path(run_dir, stage)  # no checkpoint: one clear error before any model is built
    options.app = app_metadata.spec_for_run(config, stage, app, options.length_spec(), say, run_dir)

    say(f"restoring {stage} from {run_dir}")
    restored = restore_for_export(run_dir, stage)
    if options.app:
        app_metadata.check_spec(options.app, config.encoder.vocab_size, app_metadata.num_classes(restored.model))

    data = data or for_run(config, stage, options.seq_len, options.representative, n_held,
                           metric_examples=n_metric, run_dir=run_dir)
    model, model_name, opt_report = restored.model, stage, None
    if opt:
        steps = ec.recovery_steps if recovery_steps is None else recovery_steps
        result = substitute(restored, data, steps=steps, progress=say)
        model, opt_report = result.model, result.report
        if not result.report.get("noop"):
            model_name = f"{stage}-opt"
    options.require_opt_graph = bool(opt) or config.encoder.is_opt
    files = convert(model, model_name=model_name, options=options, data=data, progress=say)
    header = _header(run_dir, restored, options, data, opt_report)
    # Each entry repeats its source: one folder may hold files exported from several stages.
    manifest = write_files(out, files, header, entry_extra={"source": header["source"], "opt": bool(opt)})
    if any(f.diagnosis for f in files):
        say(f"wrote {write_diagnosis(out, {f.mode: f.diagnosis for f in files if f.diagnosis})}")
    say(f"wrote {len(files)} file(s) and {manifest}")
    return ExportReport(out_dir=out, manifest=manifest, files=files, stage=stage, opt=opt_report,
                        data_source=data.source)


DYNAMIC_CHECK_LEN = 128


def options_from_config(ec, *, modes=None, seq_len: str | int | None = None, representative: int | None = None,
                        max_drop: float | None = None, force: bool = False, allow_flex: bool = False,
                        int8_full: bool = False, max_len: int | None = None, explain: bool = False,
                        search_budget: str | None = None) -> ExportOptions:
    """ExportOptions from a run's `export` config, with the values a command line gave (None: the config's).

    `search_budget` bounds the int8 mixed-precision search (`300`/`300s` seconds, `8c` candidates).
    `seq_len` (else the config's `export.seq_len`) is one length, a list (`32,64,128`: one
    signature per length) or `dynamic`, checked against `max_len` (the model's position table).
    """
    # `is None`, not `or`: an explicit value (even 0) is the user's, never swapped for a default.
    spec = parse_lengths(ec.seq_len if seq_len is None else seq_len, max_len,
                         option="--seq-len" if seq_len is not None else "export.seq_len")
    # A dynamic file is checked at the export data's length and a quarter of it: the
    # config's own length when it names one, else the default 128 (within the table).
    data_len = ec.longest_seq_len() or min(DYNAMIC_CHECK_LEN, max_len or DYNAMIC_CHECK_LEN)
    return ExportOptions(modes=tuple(modes or ec.modes),
                         seq_len=data_len if spec.dynamic else spec.max_len,
                         lengths=spec if spec.multi or spec.dynamic else None,
                         representative=ec.representative_examples if representative is None else representative,
                         max_drop=ec.max_drop if max_drop is None else max_drop, force=force,
                         allow_flex=allow_flex or ec.allow_flex, mask_clip=ec.mask_clip,
                         int8_float_attention=ec.int8_float_attention and not int8_full,
                         search=SearchBudget.parse(search_budget), explain=explain)


def _header(run_dir: Path, restored, options: ExportOptions, data, opt_report: dict | None) -> dict:
    cfg = restored.config
    return {
        "source": {"run": str(run_dir.resolve()), "stage": restored.stage, "checkpoint": restored.checkpoint,
                   "step": restored.step, "preset": cfg.preset, "encoder_kind": cfg.encoder.kind,
                   "normalization_type": "no_norm" if opt_report else cfg.encoder.normalization_type,
                   "activation": "relu" if opt_report else cfg.encoder.activation},
        "signature_key": SIGNATURE_KEY,
        "mask_clip": options.mask_clip,
        "int8_float_attention": options.int8_float_attention,
        "data": {"source": data.source, "representative_examples": min(options.representative,
                                                                          len(data.representative["input_word_ids"])),
                 "heldout_examples": len(data.heldout["input_word_ids"]), "metric": data.metric_name},
        "opt_substitution": opt_report,
        "versions": versions(),
        "git": git_commit(),
    }
