from perform.cli import entry

entry()
