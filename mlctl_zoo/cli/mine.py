"""``mlctl-zoo mine MODEL --src FILE --tgt FILE --output pairs.tsv``: bitext mining from monolingual files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlctl_zoo.cli.common import (
    JsonOpt,
    RegistryOpt,
    RunDevice,
    choice,
    command_line,
    get_zoo,
    print_json,
    print_table,
)
from mlctl_zoo.mine.choices import (
    BACKENDS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_DTYPE,
    DEFAULT_EXACT_MAX,
    DEFAULT_MAX_LENGTH,
)
from mlctl_zoo.search.choices import DEFAULT_K, DEFAULT_NPROBE, DTYPES, MODES

Mode = choice("Mode", MODES)
Dtype = choice("Dtype", DTYPES)
MineBackend = choice("MineBackend", BACKENDS)
MODE, DTYPE, BACKEND = Mode("intersection"), Dtype(DEFAULT_DTYPE), MineBackend("auto")  # the defaults


def mine(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="zoo name, local folder or Hugging Face id")],
    src: Annotated[Path, typer.Option("--src", help="source-language file: one sentence a line")],
    tgt: Annotated[Path, typer.Option("--tgt", help="target-language file: one sentence a line")],
    output: Annotated[Path, typer.Option("--output", "-o", help="TSV to write: src<TAB>tgt<TAB>score, best first; "
                                         "its sidecar goes beside it (OUTPUT.mine.json)")],
    mode: Annotated[Mode, typer.Option(help="which best candidates to keep: both directions agree (intersection), "
                                       "each source's (forward), each target's (backward), either's (union)")] = MODE,
    k: Annotated[int, typer.Option("-k", "--k", help="nearest neighbours per sentence for the margin")] = DEFAULT_K,
    threshold: Annotated[float | None, typer.Option(help="keep pairs whose margin score is at least this")] = None,
    top: Annotated[int | None, typer.Option(help="keep the N best pairs")] = None,
    dtype: Annotated[Dtype, typer.Option(help="precision the vectors are stored and searched in")] = DTYPE,
    exact_max: Annotated[int, typer.Option(help="exact search up to this many sentences a side; above, FAISS")] = DEFAULT_EXACT_MAX,
    nprobe: Annotated[int, typer.Option(help="FAISS inverted lists visited per query (approximate search only)")] = DEFAULT_NPROBE,
    backend: Annotated[MineBackend, typer.Option(help="auto: the model's recorded ONNX export, else PyTorch")] = BACKEND,
    device: Annotated[RunDevice, typer.Option("--device", help="where the model runs")] = RunDevice.cpu,
    batch_size: Annotated[int, typer.Option(help="sentences per encoder batch")] = DEFAULT_BATCH_SIZE,
    max_length: Annotated[int, typer.Option(help="tokens per sentence (longer ones are truncated)")] = DEFAULT_MAX_LENGTH,
    prompt_name: Annotated[str | None, typer.Option(help="the model's prompt to put before each sentence "
                                                    "(default: the model's default prompt, if any)")] = None,
    registry: RegistryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Mine translation pairs from two monolingual files: k nearest neighbours, ratio-margin scores.

    Writes every candidate of --mode (default: intersection, k=4) unless --threshold or --top cut the list.
    An interrupted run resumes where it stopped (state in OUTPUT.work/); the TSV and its sidecar are written
    atomically. See docs/mining.md.
    """
    from mlctl_zoo.mine.run import MineOptions
    from mlctl_zoo.mine.run import mine as run_mine

    opts = MineOptions(mode=mode.value, k=k, threshold=threshold, top=top, dtype=dtype.value, exact_max=exact_max,
                       nprobe=nprobe, backend=backend.value, device=device.value, batch_size=batch_size,
                       max_length=max_length, prompt_name=prompt_name)
    result = run_mine(model, src, tgt, output, options=opts, zoo=get_zoo(registry), command=command_line(ctx))
    rec = result.record
    if json_out:
        print_json(rec)
        return
    from rich.table import Table

    facts = Table(show_header=False, show_edge=False, box=None)
    facts.add_column(style="bold")
    facts.add_column()
    inputs = rec["inputs"]
    facts.add_row("pairs", f"{rec['counts']['written']:,} written of {rec['counts']['candidates']:,} {opts.mode} "
                  f"candidates (k={opts.k})")
    facts.add_row("inputs", f"{inputs['src']['sentences']:,} x {inputs['tgt']['sentences']:,} sentences")
    search = rec["search"]
    facts.add_row("search", search["method"] + (f" ({', '.join(search['index'])}, nprobe {search['nprobe']})"
                                                if search["method"] == "ann" else ""))
    facts.add_row("model", f"{rec['model']['name']} ({rec['model']['backend']}, {opts.dtype} vectors)")
    facts.add_row("output", str(result.output))
    facts.add_row("sidecar", str(result.sidecar))
    print_table(facts)


def register(app: typer.Typer) -> None:
    app.command("mine")(mine)
