"""What the tests share that is not a test: synthetic data, generated MNIST files and an HTTP
server, running the command in a subprocess, checking figures. No test module imports another
test module; they import from here (tests/ is on sys.path through tests/conftest.py) and take
the shared fixtures from the conftest.py files."""
