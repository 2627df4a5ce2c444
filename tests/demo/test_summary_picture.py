"""The demo's summary picture reads: no text runs off the figure, no two texts overlap.

Checked on the drawn figure's text extents (Agg renderer), with rows shaped like a real demo's:
three student files of near-equal accuracy and latency, the teacher's two, and the baselines
drawn as lines at accuracies close to the points'.
"""

from __future__ import annotations

from itertools import combinations
from unittest import mock

import pytest

from mbert_cli.demo.summary import LATENCY_NOTE, SummaryRow, figure

MINILM_NOTE = ("teacher: the shipped all-MiniLM-L6-v2 (22.7M parameters) fine-tuned here; student: "
               f"minilm-student (7.3M) distilled from it for minutes on 2 CPU cores; {LATENCY_NOTE}")
CPU = {"model": "Intel(R) Xeon(R) Processor (Sapphire Rapids or later)",
       "flags": ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"],
       "cores": 2, "threads": 2}
TIMINGS = {"teacher": 9.1, "finetune-teacher": 340.4, "student": 120.2, "finetune-student": 127.0,
           "finetune-scratch": 70.3, "baseline": 2.1, "export": 122.5, "bench-host": 5.2, "bench-loopback": 1.0}


def _row(model, acc_tf, acc_tflite=None, p50=None, note=""):
    return SummaryRow(model=model, parameters=7_300_000, file_mb=8.0 if p50 else None, accuracy_tf=acc_tf,
                      accuracy_tflite=acc_tflite, host_p50_ms=p50, host_p90_ms=p50 and 1.2 * p50,
                      loopback_ms=p50, note=note)


def _references(distilled, scratch):
    return [_row("student distilled", distilled, note="TF, whole validation split"),
            _row("student from scratch", scratch, note="TF, whole validation split"),
            _row("TF-IDF + LinearSVC", 77.96, note="char 2-5 n-grams, same split")]


# The MiniLM demo: the student's dynamic and int8 files 0.13 ms and 0.08 points apart, the
# distilled student's line through them.
MINILM_ROWS = [_row("teacher float32", 84.78, 84.78, 11.65),
               _row("teacher int8", 84.78, 81.25, 4.58, note="fails the export gates: latency reference"),
               _row("student float32", 80.55, 80.55, 2.93), _row("student dynamic", 80.55, 80.55, 0.86),
               _row("student int8", 80.55, 80.47, 0.73), *_references(80.55, 79.06)]
# The nano demo: all three student files at one accuracy, within 0.13 ms of each other.
NANO_ROWS = [_row("teacher float32", 51.76, 51.76, 0.721), _row("student float32", 58.43, 58.43, 0.205),
             _row("student dynamic", 58.43, 58.43, 0.332), _row("student int8", 58.43, 58.43, 0.242),
             *_references(58.43, 58.43)]

# The worst case: three files on one spot.
SAME_SPOT_ROWS = [_row("teacher float32", 80.0, 80.0, 1.0), *(_row(f"student {m}", 75.0, 75.0, 0.5)
                                                               for m in ("float32", "dynamic", "int8")),
                  *_references(75.0, 75.0)]


def drawn_texts(fig):
    """Every text the Agg renderer draws (tick labels outside the view are not), and the renderer."""
    from matplotlib.text import Text

    drawn, draw = {}, Text.draw

    def record(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn[id(self)] = self
        return draw(self, renderer)

    with mock.patch.object(Text, "draw", record):
        fig.canvas.draw()
    return list(drawn.values()), fig.canvas.get_renderer()


def text_problems(fig) -> list[str]:
    """Texts that leave the figure, and pairs of texts whose drawn boxes overlap."""
    texts, renderer = drawn_texts(fig)
    assert len(texts) > 10  # the check sees the labels, titles, ticks, legends and the note
    page = fig.bbox
    boxes = [(t.get_text().replace("\n", " ")[:50], t.get_window_extent(renderer)) for t in texts]
    problems = [f"{name!r} leaves the figure: {box} outside {page}" for name, box in boxes
                if box.x0 < page.x0 - 0.5 or box.x1 > page.x1 + 0.5 or box.y0 < page.y0 - 0.5 or box.y1 > page.y1 + 0.5]
    for (a, box_a), (b, box_b) in combinations(boxes, 2):
        w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if w > 0.5 and h > 0.5:
            problems.append(f"{a!r} overlaps {b!r} ({w:.0f} x {h:.0f} px)")
    return problems


@pytest.mark.parametrize(("rows", "note"), [(MINILM_ROWS, MINILM_NOTE), (NANO_ROWS, LATENCY_NOTE),
                                            (SAME_SPOT_ROWS, MINILM_NOTE * 3)], ids=["minilm", "nano", "same-spot"])
def test_no_text_is_clipped_or_overlapping(rows, note):
    fig = figure(rows, note, cpu=CPU, timings=TIMINGS)
    assert text_problems(fig) == []


def test_picture_names_the_cpu_and_every_stage_time():
    fig = figure(MINILM_ROWS, MINILM_NOTE, cpu=CPU, timings=TIMINGS)
    texts = " ".join(t.get_text() for t in drawn_texts(fig)[0])
    assert "Sapphire Rapids" in texts and "amx_int8" in texts and "2 cores / 2 threads" in texts
    assert all(stage in texts for stage in TIMINGS) and "340 s" in texts and "total 798 s" in texts


def test_reference_lines_are_named_in_the_legend_not_over_the_points():
    fig = figure(MINILM_ROWS, MINILM_NOTE, cpu=CPU, timings=TIMINGS)
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "student distilled (TF, whole validation split): 80.5%",
        "student from scratch (TF, whole validation split): 79.1%",
        "TF-IDF + LinearSVC (char 2-5 n-grams, same split): 78.0%"]


def test_the_check_catches_overlap_and_clipping():
    """The check can fail: two labels on one spot, and a title wider than the figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.annotate("student float32", (0.5, 0.5))
    ax.annotate("student dynamic", (0.5, 0.5))
    fig.suptitle("a title far too long for a four-inch figure, running off both of its edges " * 2)
    problems = text_problems(fig)
    assert any("overlaps" in p and "student float32" in p for p in problems)
    assert any("leaves the figure" in p and "a title far too long" in p for p in problems)


def test_table_caption_names_the_cpu_and_every_stage_time():
    from rich.console import Console

    from mbert_cli.demo.summary import render_table

    console = Console(width=300, record=True)
    render_table(MINILM_ROWS, console, MINILM_NOTE, cpu={**CPU, "flags": []}, timings=TIMINGS)
    text = console.export_text()
    assert "CPU: Intel(R) Xeon(R) Processor (Sapphire Rapids or later), 2 cores / 2 threads" in text
    assert "flags: none of avx2, fma, avx512f" in text  # an AVX2-less CPU says so, not an empty list
    assert "finetune-teacher 340, student 120" in text and "total 798" in text
