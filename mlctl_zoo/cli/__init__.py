"""Thin Typer commands: parse options, load a typed config, call one library function, render."""
