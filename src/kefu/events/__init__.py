"""Events: what departments (and kefu itself) announce, and the rules that act on them.

Every event travels on ``kefu.events.<type>``; it is processed at least once and its
effect applied once (``processed_events`` dedupes by id in the effect's transaction).
"""
