"""The commands of `tinygrad-mnist`, one module each (pip's layout): `add_parser(subparsers)`
adds the command and its options, `run(args)` runs it and returns the exit status. A new
command is a new module here and one line in `COMMANDS` (app/cli.py)."""
