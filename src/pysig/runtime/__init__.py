"""The runtimes pysig runs models on, each behind the same C++ seam (src/cpp/)."""
