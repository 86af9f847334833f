"""One module per outside world. Channels never import each other."""
