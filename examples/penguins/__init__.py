"""The penguins example: one species classifier per model flavor, tested and packaged."""
