"""``mlctl-zoo export MODEL``: ONNX with Optimum, optional O1-O4 / int8, parity-gated, recorded in the zoo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlctl_zoo.cli.common import JsonOpt, RegistryOpt, choice, get_zoo, print_json, print_table
from mlctl_zoo.models.choices import EXPORT_DEVICES, OPT_LEVELS, QUANTIZE

Device = choice("Device", EXPORT_DEVICES)
Level = choice("Level", OPT_LEVELS)
Quant = choice("Quant", QUANTIZE)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def export(
    model: Annotated[str, typer.Argument(help="zoo model name")],
    device: Annotated[Device, typer.Option(help="where the export will run: cpu, cuda (or tensorrt, on a GPU with TensorRT)")] = Device.cpu,
    optimize: Annotated[Level | None, typer.Option(help="ORTOptimizer level; O4 = fp16 and needs --device cuda")] = None,
    quantize: Annotated[Quant | None, typer.Option(help="dynamic int8 (per-channel weights) for CPU inference")] = None,
    opset: Annotated[int | None, typer.Option(help="ONNX opset (default 14)")] = None,
    output: Annotated[Path | None, typer.Option(help="folder for the model (default: exports/MODEL/VARIANT beside the registry)")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing export in the output folder")] = False,
    dimensions: Annotated[int | None, typer.Option("--dimensions", help="a Matryoshka model's first N components, L2-normalised in the graph (folder VARIANT-Nd; served only when named)")] = None,
    registry: RegistryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Export a zoo model to ONNX, check it against PyTorch on a multilingual probe set, record it in the zoo.

    An export that misses its parity tolerance (fp32: cosine >= 0.9999; int8: mean cosine >= 0.98;
    fp16: cosine >= 0.999) is not written or registered, and the command exits non-zero.
    """
    from mlctl_zoo.export.exporter import export_model

    zoo = get_zoo(registry)
    record = export_model(zoo, model, device=device.value, optimize=optimize.value if optimize else None,
                          quantize=quantize.value if quantize else None, opset=opset, output=output,
                          force=force, progress=not json_out, dimensions=dimensions)
    if json_out:
        print_json({"model": model, **record, "path": str(zoo.resolve(record["path"]))})
        return
    _summary(zoo, model, record)


def _short(zoo, path: Path) -> str:
    rel = zoo.relativize(path)
    return rel if not Path(rel).is_absolute() else str(path)


def _summary(zoo, model: str, record: dict) -> None:
    from rich.table import Table

    onnx_file = zoo.resolve(record["path"])
    folder = onnx_file.parent
    files = Table(title=f"{model}: {record['precision']}"
                  + (f" {record['optimization']}" if record.get("optimization") else "")
                  + f" export in {_short(zoo, folder)}", show_edge=False)
    files.add_column("file")
    files.add_column("size", justify="right")
    files.add_column("sha256")
    for name, digest in record.get("files", {}).items():
        p = folder / name
        files.add_row(name, _size(p.stat().st_size) if p.is_file() else "?", digest[:12])
    print_table(files)
    par = record["parity"]
    tol = par.get("tolerance", {})
    gate = Table(title="parity gate: PyTorch fp32 vs ONNX Runtime", show_edge=False)
    for col in ("probes", "min cosine", "mean cosine", "max |diff|", "NN agree", "result"):
        gate.add_column(col, justify="right" if col != "result" else "left", no_wrap=True)
    gate.add_row(str(par["probes"]), f"{par['min_cosine']:.6f}", f"{par['mean_cosine']:.6f}",
                 f"{par['max_abs_diff']:.2e}", f"{par['nn_agreement']:.1%}", "[green]passed[/green]")
    print_table(gate)
    facts = Table(show_header=False, show_edge=False, box=None)
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("tolerance", f"{record['precision']}: " + ", ".join(f"{k.replace('_', ' ')} >= {v}" for k, v in tol.items()))
    facts.add_row("provider", record["provider"])
    cut = record.get("dimensions")
    facts.add_row("graph", f"opset {record['opset']}, output {record['output']}, {record['pooling']} pooling in "
                  "the graph" + (f", first {cut} dimensions L2-normalised in the graph" if cut else
                                 ", L2-normalised by the reader" if record.get("normalize") else ""))
    facts.add_row("registered", f"{zoo.path} -> models.{model}.exports ({record['path']})")
    print_table(facts)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
