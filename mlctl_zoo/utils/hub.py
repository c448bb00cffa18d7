"""Can the Hugging Face hub be reached? Decided once per process, so that an offline machine says "offline"
once, then uses what is cached, instead of retrying every download five times with raw connection errors."""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlparse

from mlctl_zoo.errors import DataError, MissingDependencyError
from mlctl_zoo.utils.limits import first_line

OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
PROBE_TIMEOUT_S = 3.0
_TRUE = ("1", "true", "yes", "on")

_checked: dict[str, str | None] = {}


def offline_by_setting() -> str | None:
    """The variable that switches the hub off, if one does."""
    for var in OFFLINE_VARS:
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return var
    return None


def offline_reason(timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when the hub answers a TCP connection; else why not, in words. An unreachable hub switches this
    process to offline mode (``go_offline``): cached models and datasets are used, nothing is retried."""
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    if endpoint in _checked:  # probed before (and maybe switched offline then: say why, not the variable)
        return _checked[endpoint]
    var = offline_by_setting()
    if var is not None:
        return f"offline: {var}=1"
    url = urlparse(endpoint)
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            reason = None
    except OSError as e:
        why = getattr(e, "strerror", None) or type(e).__name__
        reason = f"offline: {host} cannot be reached ({why})"
        go_offline()
    _checked[endpoint] = reason
    return reason


def go_offline() -> None:
    """Offline mode for this process: the variables for libraries not imported yet, their flags for those
    that are (huggingface_hub, transformers and datasets read the variables once, on import)."""
    for var in OFFLINE_VARS:
        os.environ[var] = "1"
    for module, attrs in (("huggingface_hub.constants", ("HF_HUB_OFFLINE",)),
                          ("transformers.utils.hub", ("_is_offline_mode",)),
                          ("datasets.config", ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))):
        mod = sys.modules.get(module)
        for attr in attrs:
            if mod is not None and hasattr(mod, attr):
                setattr(mod, attr, True)


def reset() -> None:
    """Forget the probe (tests)."""
    _checked.clear()


def load_hub_split(dataset: str, config: str | None, split: str, *, revision: str | None = None, hint: str):
    """One split of a Hugging Face dataset, the way training data and benchmark data both load it:
    ``(split, revision)``, the revision being the commit the hub resolved (or the cached snapshot's when
    offline; None when the builder does not say). Every failure is one ``DataError``: ``cannot load WHAT
    from the Hugging Face hub (WHY); HINT``, WHY being "offline ..., and it is not in the local cache" when
    the hub cannot be reached, else the first line of the library's message."""
    try:
        import datasets
    except ImportError:
        raise MissingDependencyError("loading data from the Hugging Face hub needs `datasets`: pip install datasets") from None
    what = dataset + (f" config {config}" if config else "") + f" split {split}" + \
        (f" at revision {revision}" if revision else "")
    offline = offline_reason()  # once per process: an unreachable hub is "offline", not five retries
    try:
        builder = datasets.load_dataset_builder(dataset, config, revision=revision)
        builder.download_and_prepare()
        ds = builder.as_dataset(split=split)
    except Exception as e:  # noqa: BLE001  the hub raises many types (ConnectionError, DatasetNotFoundError, ...)
        why = f"{offline}, and it is not in the local cache" if offline else first_line(e, 200)
        raise DataError(f"cannot load {what} from the Hugging Face hub ({why}); {hint}") from None
    loaded = getattr(builder, "hash", None)
    return ds, (loaded if isinstance(loaded, str) and loaded != "auto" else None)
