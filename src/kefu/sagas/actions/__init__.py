"""The write side of the 360's connectors: what a saga step does to a department system."""
