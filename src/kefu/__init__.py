"""kefu: a high-performance customer-service platform.

Live chat, a real-time customer 360, tickets and event routing in one process per
node, composed at start from config (see ``kefu.bootstrap``). Sagas (operations that
cross departments) are planned, not built yet.
"""

__version__ = "0.1.0"
