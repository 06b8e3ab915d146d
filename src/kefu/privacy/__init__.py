"""What kefu keeps about visitors, and for how long: erasure on request, retention by age."""
