"""Build hook: the wheel carries the top-level data folders (models/, protocols/, corpora/)
as ``benchbox/_data/<kind>/``; benchbox.resources finds them there when installed.
All metadata lives in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_KINDS = ("models", "protocols", "corpora")


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads the source tree's folders
            return
        root = Path(__file__).resolve().parent
        for kind in DATA_KINDS:
            if (root / kind).is_dir():
                shutil.copytree(root / kind, Path(self.build_lib) / "benchbox" / "_data" / kind, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithData})
