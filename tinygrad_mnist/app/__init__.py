"""The `tinygrad-mnist` application: command line, run folders, run configuration."""
