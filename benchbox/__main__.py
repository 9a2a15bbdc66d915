"""``python -m benchbox``: the same CLI as the ``benchbox`` command (:func:`benchbox.cli.main.main`)."""

from benchbox.cli.main import main

main()
