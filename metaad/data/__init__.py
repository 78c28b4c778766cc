"""Reading data (CSV, Parquet, NPZ, ODDS .mat, MNIST IDX), schemas, preprocessing and bundled datasets."""

from metaad.data.bundled import DatasetInfo, is_bundled, list_datasets, load_dataset
from metaad.data.mnist import load_mnist
from metaad.data.preprocessing import TabularPreprocessor
from metaad.data.readers import Table, as_frame, read_table
from metaad.data.schema import ColumnSpec, Schema

__all__ = [
    "ColumnSpec",
    "DatasetInfo",
    "Schema",
    "Table",
    "TabularPreprocessor",
    "as_frame",
    "is_bundled",
    "list_datasets",
    "load_dataset",
    "load_mnist",
    "read_table",
]
