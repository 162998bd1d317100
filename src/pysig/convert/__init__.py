"""Converting TensorFlow models to .tflite with the signatures the user chooses, and
checking the result against TensorFlow (``pysig convert``, the ``pysig[convert]`` extra).

Every module of this package but ``options`` imports TensorFlow: import them only where
a conversion is asked for, never from ``pysig`` or from a command that does not convert.
"""
