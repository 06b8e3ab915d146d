"""kefu's benchmark suite: ``python -m bench.run`` runs every scenario and writes a table.

The suite compares kefu side by side, in the same run, against the stacks a Python
developer would otherwise pick, because the machine is shared and noisy: ratios measured
minutes apart mean more than absolute figures measured on different days.
"""
