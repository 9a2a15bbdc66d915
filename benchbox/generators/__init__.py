"""Generators: autoregressive models over 256-class audio tokens behind one interface."""
