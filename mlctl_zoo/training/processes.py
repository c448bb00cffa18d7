"""What the processes of one launch (``accelerate launch``, N processes) must agree on after every step."""

from __future__ import annotations


def global_values(acc, loss, parts: dict, seconds: float) -> tuple[float, dict[str, float], float]:
    """The step's loss, its parts and the seconds of training, averaged over processes (one all-reduce).

    The logged curve is the global batch's: contrastive parts are already global in every process, local
    ones (MLM, MSE) become their mean. Every process then holds the same seconds, which the learning rate
    (``training.max_minutes``) and the time-budget stop read: processes never disagree on either."""
    if acc.num_processes == 1:
        return float(loss.detach()), {k: float(v.detach()) for k, v in parts.items()}, seconds
    import torch

    keys = list(parts)
    values = torch.stack([loss.detach().float(), *(parts[k].detach().float().to(loss.device) for k in keys),
                          torch.tensor(seconds, dtype=torch.float32, device=loss.device)])
    values = acc.reduce(values, reduction="mean").tolist()
    return values[0], dict(zip(keys, values[1:-1], strict=True)), values[-1]
