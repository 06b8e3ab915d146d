"""Sagas: operations across departments' systems that finish, or undo themselves, through crashes.

A saga is a named list of steps (``sagas:`` in config); each step is an action on a
department system with the compensation that undoes it. The engine records every step's
start and outcome in kefu's own store, so a node that dies mid-saga leaves it to be
finished by the next node that holds its lease. See docs/sagas.md.
"""
