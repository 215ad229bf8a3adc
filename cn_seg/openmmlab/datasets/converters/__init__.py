"""Dataset converters behind ``tools/dataset_converters/``."""
