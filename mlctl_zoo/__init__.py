"""mlctl-zoo: cross-lingual alignment of multilingual encoders (ML-CTL), with a YAML model zoo."""

__version__ = "0.1.0"
