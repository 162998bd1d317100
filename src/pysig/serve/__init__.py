"""``pysig serve``: a TensorFlow Serving-compatible REST server over pysig Pools.

Needs the ``serve`` extra (``pip install "pysig[serve]"``); ``import pysig`` never
imports this package.
"""
