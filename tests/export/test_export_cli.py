"""``mlctl-zoo export``: summary table, pure --json, one-line errors with non-zero exits."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mlctl_zoo.cli.app import app

runner = CliRunner(env={"COLUMNS": "200"})


def test_export_json_is_pure_and_registered(tiny_zoo):
    res = runner.invoke(app, ["export", "tiny-t5", "--json", "--registry", str(tiny_zoo.path)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["model"] == "tiny-t5" and data["parity"]["passed"] and data["pooling"] == "avg_first_last"
    assert data["path"].endswith("exports/tiny-t5/fp32/model.onnx")
    assert len(tiny_zoo.get("tiny-t5").exports) == 1


def test_export_prints_files_provider_and_parity(tiny_zoo, tmp_path):
    out = tmp_path / "out"
    res = runner.invoke(app, ["export", "tiny-xlmr", "--quantize", "int8", "--output", str(out)])
    assert res.exit_code == 0, res.output
    for text in ("model.onnx", "tokenizer.json", "CPUExecutionProvider", "mean cosine", "passed", "int8"):
        assert text in res.stdout, text
    assert (out / "model.onnx").is_file()


def test_refusals_exit_nonzero_with_one_line_reason(tiny_zoo):
    cases = [
        (["export", "tiny-bert", "--optimize", "O4"], "O4 converts the model to fp16"),
        (["export", "tiny-bert", "--quantize", "int8", "--device", "cuda"], "MatMulInteger"),
        (["export", "no-such-model"], "unknown zoo model"),
    ]
    for args, expected in cases:
        res = runner.invoke(app, args)
        assert res.exit_code != 0, args
        assert "error:" in res.output and expected in res.output, res.output
        assert "Traceback" not in res.output
    assert tiny_zoo.get("tiny-bert").exports == []
