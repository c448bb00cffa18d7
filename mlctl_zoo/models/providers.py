"""Execution providers chosen explicitly, and sessions that say what they really run on.

A GPU build of ONNX Runtime lists TensorRT and CUDA as *available* even on a machine without a GPU
or without the CUDA libraries; asking for them then logs an error and quietly runs on the CPU. We
always pass the provider list ourselves and compare it with ``session.get_providers()`` afterwards.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlctl_zoo.errors import ModelError
from mlctl_zoo.models.choices import EXPORT_DEVICES
from mlctl_zoo.utils.limits import first_line

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
DEVICES = EXPORT_DEVICES


def physical_cores() -> int:
    """Physical cores this process may use (ONNX Runtime is slower with one thread per hyperthread)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    physical = None
    try:
        import psutil  # optional (not a dependency): physical cores; without it, the usable CPUs

        physical = psutil.cpu_count(logical=False)
    except ImportError:
        pass
    return max(1, min(usable, physical or usable))


def providers_for(device: str) -> list[str]:
    """The provider list to request for ``device`` (cpu, cuda, tensorrt), most preferred first."""
    if device == "cpu":
        return [CPU]
    if device == "cuda":
        return [CUDA, CPU]
    if device == "tensorrt":
        return [TENSORRT, CUDA, CPU]
    raise ModelError(f"unknown device {device!r} (known: {', '.join(DEVICES)})")


@dataclass
class SessionInfo:
    requested: str  # the provider asked for first
    provider: str  # the provider the session really runs on
    providers: list[str]  # session.get_providers()
    threads: int | None

    @property
    def fell_back(self) -> bool:
        return self.provider != self.requested


def check_available(device: str) -> None:
    """Fail early when the installed ONNX Runtime has no such provider at all."""
    import onnxruntime as ort

    wanted = providers_for(device)[0]
    available = ort.get_available_providers()
    if wanted not in available:
        pkg = "onnxruntime-gpu" if wanted != CPU else "onnxruntime"
        raise ModelError(
            f"device {device!r} needs {wanted}, which this ONNX Runtime build does not offer "
            f"(available: {', '.join(available)}); install {pkg} with a matching CUDA, or use --device cpu"
        )


def create_session(model_path: str | Path | bytes, device: str = "cpu", *, threads: int | None = None,
                   allow_fallback: bool = False, spin: bool | None = None):
    """An ``InferenceSession`` on ``device`` and a ``SessionInfo`` saying where it really runs.

    ``threads`` (intra-op) defaults to the physical core count on CPU. A session that silently fell
    back to the CPU raises ``ModelError`` unless ``allow_fallback``. ``spin=False`` stops idle intra-op
    threads from busy-waiting between runs (ONNX Runtime spins by default): a server whose event loop
    shares the cores with inference wants that (serve measured ~35% less CPU per request).
    """
    import onnxruntime as ort

    check_available(device)
    providers = providers_for(device)
    if device != "cpu":
        ort.set_default_logger_severity(3)  # a failed CUDA load is reported below, in one line
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # provider-load failures are detected below and reported our way
    n_threads = threads if threads is not None else (physical_cores() if device == "cpu" else None)
    if n_threads:
        opts.intra_op_num_threads = int(n_threads)
        opts.inter_op_num_threads = 1
    if spin is not None:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    try:
        source = model_path if isinstance(model_path, bytes) else str(model_path)
        session = ort.InferenceSession(source, sess_options=opts, providers=providers)
    except Exception as e:  # noqa: BLE001  onnxruntime raises its own Fail/InvalidGraph/... types
        what = "a probe graph" if isinstance(model_path, bytes) else str(model_path)
        raise ModelError(f"ONNX Runtime cannot load {what} on {device}: {first_line(e)}") from None
    actual = session.get_providers()
    info = SessionInfo(requested=providers[0], provider=actual[0] if actual else CPU, providers=actual,
                       threads=n_threads)
    if info.fell_back and not allow_fallback:
        raise ModelError(
            f"asked for {info.requested} but the session silently fell back to {info.provider} "
            f"(running on: {', '.join(actual)}): no usable GPU or CUDA/cuDNN libraries here; "
            f"check `nvidia-smi` and the onnxruntime-gpu CUDA requirements, or use --device cpu"
        )
    return session, info


def probe_device(device: str) -> SessionInfo:
    """Open a one-node session on ``device`` to find out, in milliseconds, whether it really runs there.

    Raises ``ModelError`` when the provider is missing or the session silently falls back to the CPU,
    so a GPU export fails before minutes are spent exporting.
    """
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    _, info = create_session(model.SerializeToString(), device, threads=1)
    return info
