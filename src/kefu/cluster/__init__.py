"""Several nodes as one: live frames and control signals cross nodes over NATS.

A message accepted on node A must reach a socket on node B. Every node keeps its own
sockets (``kefu.chat.hub``); with ``bus: nats://`` each node also publishes what it sends
on a core NATS subject and delivers what the others publish to its own sockets. Core NATS,
not JetStream: live frames are as best-effort as the sockets they travel to (everything
is stored first; a client that misses a frame gets it back with ``resume``).
"""
