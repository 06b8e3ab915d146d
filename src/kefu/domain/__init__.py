"""The pure core: state machines, assignment policy, rules. No I/O, no framework, no driver."""
