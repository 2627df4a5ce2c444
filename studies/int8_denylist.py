"""Which ops cost a full-int8 BERT-kind export its accuracy: one calibration, several float denylists.

    python -m studies.int8_denylist --run runs/minilm [--seq-len 64] [--out DIR] [--variants a,b]
    mbert bench DIR/none.tflite DIR/<variant>.tflite ... --device host --threads 1   # then the latency
"""

from __future__ import annotations

import argparse
import json
import re
import time
import warnings
from pathlib import Path

# Regexes over the float model's tensor names (BertEncoderV2 / tf-models TransformerEncoderBlock).
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

    import tensorflow as tf

    from converters import quantize
    from converters.attention_mask import clip_attention_masks
    from converters.converter import ExportOptions, _checks, _representative, convert_bytes, verify_bytes
    from converters.data import for_run
    from converters.export_model import restore_for_export
    from converters.signatures import build_serving_functions
    from mbert_cli.runtime import load_runtime
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
    interp = load_runtime().interpreter(model_content=float_bytes)
    names = sorted({t["name"] for t in interp.get_tensor_details()})

    converter = tf.lite.TFLiteConverter.from_concrete_functions([serving.concrete], serving.module)
    rep = _representative(serving, data, options.representative)
    quantize.recipe("int8").configure(converter, rep)
    warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
    started = time.time()
    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=rep)
    print(f"calibrated {options.representative} rows in {time.time() - started:.0f} s; "
          f"TF accuracy {checks[-1].float_metric:.1f}", flush=True)
    rows = []
    for name in args.variants.split(","):
        nodes = [n for n in names if any(re.search(p, n) for p in VARIANTS[name])]
        # Swapping the options re-quantizes the one calibrated model (a new debugger would calibrate again).
        debugger._debug_options = tf.lite.experimental.QuantizationDebugOptions(  # noqa: SLF001
            denylisted_ops=list(quantize.FLOAT_ATTENTION_OPS), denylisted_nodes=mask_nodes + nodes)
        content = debugger.get_nondebug_quantized_model()
        (out / f"{name}.tflite").write_bytes(content)
        checked = verify_bytes(content, "int8", name, options, data, checks[-1].reference, checks[-1].float_metric,
                               lambda _m: None, checks=checks)
        metric = checked.task_metric
        rows.append({"variant": name, "float_nodes": len(nodes), "size_mb": round(len(content) / 1e6, 1),
                     "accuracy": round(metric["tflite"], 1), "tf": round(metric["tensorflow"], 1),
                     "drop": round(metric["drop"], 1), "cosine": round(checked.parity["cosine"], 4),
                     "passes_gate": metric["drop"] <= options.max_drop})
        print(json.dumps(rows[-1]), flush=True)
    (out / "int8_denylist.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(f"files in {out}; latency: mbert bench {out}/none.tflite {out}/<variant>.tflite --threads 1")


if __name__ == "__main__":
    main()
