"""One module per kind of department system; ``registry`` names them for configuration."""
