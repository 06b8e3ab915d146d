"""kefu: a high-performance customer-service platform.

Live chat, a real-time customer 360, tickets, event routing and sagas (operations that
cross departments, finished or undone through crashes: ``kefu.sagas``) in one process
per node, composed at start from config (see ``kefu.bootstrap``).
"""

__version__ = "0.1.0"
