"""ML-CTL training: parallel and labelled data, word pairs, losses, the Accelerate loop, checkpoints.

The entry point is :func:`mlctl_zoo.training.trainer.train_recipe` (the ``mlctl-zoo train`` command calls it).
Heavy libraries (torch, transformers, accelerate, datasets) are imported by the modules that need them;
importing this package stays cheap.
"""
