"""Customer 360: live, parallel, typed aggregation of every department's systems.

kefu never copies a department's data: each request fetches it from the source (or from a
short-lived cache), maps it into ``kefu.v1.UnifiedCustomer`` and forgets it.
"""
