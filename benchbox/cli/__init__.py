"""The Typer CLI. Commands are thin: they parse options and call one library function."""
