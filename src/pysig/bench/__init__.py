"""``pysig bench``: timing signature calls, side by side with the runtimes' own APIs."""
