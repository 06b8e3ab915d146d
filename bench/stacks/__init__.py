"""The tiny raw relay servers of the ``ws_stacks`` scenario, one module per stack.

Each keeps one dict of open sockets by id and forwards every text frame from a socket to
its peer: the least work a chat server can do, so the figures show the stack's own cost.
"""
