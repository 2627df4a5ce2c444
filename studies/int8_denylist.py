"""Which ops cost a full-int8 BERT-kind export its accuracy: one calibration, several float denylists.

    python -m studies.int8_denylist --run runs/minilm [--seq-len 64] [--out DIR] [--variants a,b]
    mbert bench DIR/none.tflite DIR/<variant>.tflite ... --device host --threads 1   # then the latency
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

# Regexes over the float file's op output names (BertEncoderV2 / tf-models TransformerEncoderBlock).
LAYER_NORM = r"layer_norm/"  # every LayerNorm's decomposed ops (mean, variance, rsqrt, scale, shift)
RESIDUAL = (r"layer_\d+/add(_1)?$", r"encoder/add(_1)?;")  # the blocks' residual adds and the embedding sum
FFN_OUT = r"/output/einsum/Einsum"  # each block's FFN output dense (the weights stay float too)
FFN_IN = (r"/intermediate/einsum", r"Gelu")
EMBEDDING_LN = r"embeddings/layer_norm/"
VARIANTS = {
    "int8": (),  # the default export (attention float)
    "embedding_ln": (EMBEDDING_LN,),
    "ln": (LAYER_NORM,),
    "ln_residual": (LAYER_NORM, *RESIDUAL),
    "ln_residual_ffn_out": (LAYER_NORM, *RESIDUAL, FFN_OUT),
    "ln_residual_ffn": (LAYER_NORM, *RESIDUAL, FFN_OUT, *FFN_IN),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--stage", default="finetune-classification")
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--out", default="int8_denylist")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()

    from converters import quant_diagnosis, quantize
    from converters.attention_mask import clip_attention_masks
    from converters.converter import ExportOptions, _checks, convert_bytes, verify_bytes
    from converters.data import for_run
    from converters.export_model import restore_for_export
    from converters.signatures import build_serving_functions
    from mbert_cli.training import checkpoints

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run = Path(args.run)
    config = checkpoints.open_run(run)
    restored = restore_for_export(run, args.stage)
    options = ExportOptions(modes=("int8",), seq_len=args.seq_len, force=True, mask_clip=config.export.mask_clip,
                            representative=config.export.representative_examples)
    data = for_run(config, args.stage, args.seq_len, options.representative, config.export.parity_examples,
                   metric_examples=config.export.metric_examples, run_dir=run)
    clip_attention_masks(restored.model, options.mask_clip)
    spec = options.length_spec()
    serving = build_serving_functions(restored.model, spec.signature_keys(), max_len=spec.max_len)
    checks = _checks(serving, spec, data)
    float_bytes = convert_bytes(serving, "none", data, options.representative)
    (out / "none.tflite").write_bytes(float_bytes)
    mask_nodes = quantize.mask_add_nodes(float_bytes)

    started = time.time()
    calibration = quant_diagnosis.calibrate(float_bytes, quant_diagnosis.calibration_rows(
        serving, data, options.representative))
    print(f"calibrated {options.representative} rows in {time.time() - started:.0f} s; "
          f"TF accuracy {checks[-1].float_metric:.1f}", flush=True)
    rows = []
    for name in args.variants.split(","):
        overrides = [(pattern, "float") for pattern in VARIANTS[name]]
        content = quant_diagnosis.library_build(float_bytes, quantize.library_int8_recipe(mask_nodes, True, overrides),
                                                calibration)
        (out / f"{name}.tflite").write_bytes(content)
        checked = verify_bytes(content, "int8", name, options, data, checks[-1].reference, checks[-1].float_metric,
                               lambda _m: None, checks=checks)
        metric = checked.task_metric
        rows.append({"variant": name, "float_patterns": len(overrides), "size_mb": round(len(content) / 1e6, 1),
                     "accuracy": round(metric["tflite"], 1), "tf": round(metric["tensorflow"], 1),
                     "drop": round(metric["drop"], 1), "cosine": round(checked.parity["cosine"], 4),
                     "passes_gate": metric["drop"] <= options.max_drop})
        print(json.dumps(rows[-1]), flush=True)
    (out / "int8_denylist.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(f"files in {out}; latency: mbert bench {out}/none.tflite {out}/<variant>.tflite --threads 1")


if __name__ == "__main__":
    main()
