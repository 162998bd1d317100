"""Batch inference on engines that call a function or class per batch of rows.

Ray Data (``Dataset.map_batches``), Dask (``map_partitions``) and process pools;
none of them is imported by pysig.
"""

from .predictor import BatchPredictor
from .workers import install, predict

__all__ = ["BatchPredictor", "install", "predict"]
