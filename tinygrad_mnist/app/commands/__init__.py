"""The commands of `tinygrad-mnist`, one module each (pip's layout): `add_parser(subparsers)`
adds the command and its options and returns its parser; `run(args)` runs it and returns
the exit status. A new command is a new module here and one entry in `COMMANDS` (app/cli.py);
a new training option is a field of `RunConfig` (train/config.py), nothing here."""
