"""Client-side protocol drivers: how the load generator talks to each server under test.

``relay`` speaks the raw relay of ``bench.stacks``, ``kefu`` kefu's public WebSocket and
REST contract, ``socketio`` the Engine.IO 4 / Socket.IO 5 wire protocol of the baseline.
Each offers the same two faces: idle sockets (memory) and a relay target (latency).
"""
