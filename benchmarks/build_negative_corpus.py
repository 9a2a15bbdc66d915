"""Build ``corpora/footsteps-neg-dev``: real non-footstep sound effects from the dev packages.

The negatives come from the **same** three Debian packages as ``corpora/footsteps-dev``
(0ad-data, ufoai-sound, minetest-data), so a model fitted on both corpora learns
"footstep or not", not "which game's recording chain". Nothing is installed::

    cd /tmp && apt-get download 0ad-data ufoai-sound minetest-data
    for p in 0ad-data ufoai-sound minetest-data; do dpkg -x ${p}_*.deb x_$p; done
    unzip -q x_0ad-data/usr/share/games/0ad/mods/public/public.zip "audio/*" -d x_0ad-data/audio-zip
    unzip -q x_ufoai-sound/usr/share/games/ufoai/base/0snd.pk3 -d x_ufoai-sound/pk3
    PYTHONPATH=. .venv/bin/python benchmarks/build_negative_corpus.py --debs /tmp

Selection (seeded): every file whose path names a footstep, a landing, a run, a walk, a
step, stairs or hooves is left out (a listener could fairly call it a footstep); music is
left out. 0ad-data holds ~1,500 candidates, so at most ``PER_STEM_0AD`` files per name
stem (``arrow_wood_3`` -> ``arrow_wood``) and at most ``PER_CATEGORY_0AD`` per category
are kept; ufoai-sound and minetest-data are kept whole. Files longer than ``MAX_SECONDS``
are cut to their first ``MAX_SECONDS`` (50 ms fade-out) and re-encoded as Ogg Vorbis
(the ``trimmed`` column); shorter files are copied unchanged.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import random
import re
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "corpora" / "footsteps-neg-dev"
MAX_SECONDS = 3.0
FADE_SECONDS = 0.05
PER_STEM_0AD, PER_CATEGORY_0AD = 2, 40
SEED = 0
PACKAGES = {  # short name -> (Debian package and version, folder holding its sounds under --debs)
    "0ad": ("0ad-data 0.0.26-1", "x_0ad-data/audio-zip/audio"),
    "ufoai": ("ufoai-sound 2.5-2", "x_ufoai-sound/pk3/sound"),
    "minetest": ("minetest-data 5.6.1+dfsg+~1.9.0mt8+dfsg-2", "x_minetest-data/usr/share/games/minetest"),
}
PACKAGE_PATH_PREFIX = {"0ad": "audio/", "ufoai": "base/sound/", "minetest": ""}  # path as the copyright file names it
LEFT_OUT = re.compile(r"foot|step|walk|\brun|_run|running|land|jump|stair|gallop|hoof|singlesteps|mounted|music|soundstuff|aliens/.*move", re.I)
CATEGORIES = (  # first match wins; matched against the lower-case path inside the package
    ("ui", r"interface/|/ui/|geoscape/|alarm|complete_|sel_|click|beep|popup|roundstart|lobby|mail|promotion|chat|jingle|info"),
    ("creature", r"fauna|aliens/|animal|cattle|goat|pig|sheep|chicken|elephant|lion|camel|horse|peacock|flamingo|cricket"),
    ("voice", r"voice/|death|hurt|scream|civilians/|soldiers/|talk|radiomessage|player_damage"),
    ("explosion", r"explo|tnt_|thunder|flashbang|collapse"),
    ("impact", r"impact|hit|arrow_|shield|break|dug|place_node|fleshimp|fleshstab|debris|bounce|item-drop|item-drag|cool_lava"),
    ("tool", r"resource/|dig|mine_|lumber|con_|hoe|gather|tool_breaks|flint|saw|hammer|medikit|reload|grenade-pin|irgoggles"),
    ("weapon", r"weapon|attack|bullet|laser|plasma|rocket|bow|sling|spear|sword|pike|jav|ballist|musket|grenade|flamer|ptl|needler|taser|swoosh|throw|psi"),
    ("water", r"water|river|wave|rain|splash|lava|steam|extinguish"),
    ("fire", r"fire|flame|burn|smoke"),
    ("mechanism", r"door|gate|chest|cart|ugv|machin|engine|ship|ram_|onager|furnace|generator|device|pump|ventilation|creak|lights|electr|hover|siege"),
    ("ambience", r"ambient|ambience|wind|day_|amb_|snow|atm|hum|drone|droning|city|disco|tv_|wormhole|alien"),
)
MANIFEST_COLUMNS = ("file", "category", "debian_package", "package_path", "licence", "copyright_stanza", "sample_rate", "channels", "seconds", "trimmed")


def category(path: str) -> str:
    """The coarse category of a package path (``other`` when no rule matches)."""
    low = path.lower()
    for name, pattern in CATEGORIES:
        if re.search(pattern, low):
            return name
    return "other"


def stanzas(copyright_file: Path) -> list[tuple[list[str], str, str]]:
    """``(patterns, licence, first pattern)`` of each ``Files:`` stanza of a Debian copyright file."""
    out, patterns, in_files = [], [], False
    for line in copyright_file.read_text(errors="replace").splitlines():
        if line.startswith("Files:"):
            patterns, in_files = line[len("Files:") :].split(), True
        elif in_files and line.startswith(" ") and ":" not in line:
            patterns += line.split()
        elif line.startswith("License:") and patterns:
            out.append((patterns, line[len("License:") :].strip(), patterns[0]))
            patterns, in_files = [], False
        elif line and not line.startswith(" "):
            in_files = False
    return out


def licence(path: str, table: list[tuple[list[str], str, str]]) -> tuple[str, str]:
    """The last stanza whose pattern matches ``path`` or one of its tails (Debian's rule)."""
    parts = path.split("/")
    tails = ["/".join(parts[i:]) for i in range(len(parts))]
    found = ("", "")
    for patterns, lic, first in table:
        for pat in patterns:
            pat = pat.removeprefix("mtg/")
            if any(fnmatch.fnmatch(t, pat) for t in tails):
                found = (lic, f"Files: {first}" + (" ..." if len(patterns) > 1 else ""))
    return found


def candidates(root: Path) -> list[Path]:
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".ogg", ".wav"))
    return [p for p in files if not LEFT_OUT.search(str(p.relative_to(root)))]


def select_0ad(files: list[Path], root: Path, rng: random.Random) -> list[Path]:
    by_stem: dict[str, list[Path]] = {}
    for p in files:
        by_stem.setdefault(re.sub(r"[_\-]*\d+[a-z]?$", "", p.stem), []).append(p)
    kept = [q for group in by_stem.values() for q in rng.sample(group, min(PER_STEM_0AD, len(group)))]
    by_cat: dict[str, list[Path]] = {}
    for p in sorted(kept):
        by_cat.setdefault(category(str(p.relative_to(root))), []).append(p)
    return sorted(q for group in by_cat.values() for q in rng.sample(group, min(PER_CATEGORY_0AD, len(group))))


def write_clip(src: Path, dst: Path) -> tuple[int, int, float, bool]:
    """Copy ``src`` (or its first MAX_SECONDS, faded, as Ogg Vorbis) to ``dst``: (rate, channels, seconds, trimmed)."""
    info = sf.info(str(src))
    dst.parent.mkdir(parents=True, exist_ok=True)
    if info.duration <= MAX_SECONDS:
        shutil.copyfile(src, dst)
        return info.samplerate, info.channels, round(info.duration, 3), False
    data, rate = sf.read(str(src), frames=int(MAX_SECONDS * info.samplerate), always_2d=True)  # (T, C)
    fade = int(FADE_SECONDS * rate)
    data[-fade:] *= np.linspace(1.0, 0.0, fade)[:, None]
    sf.write(str(dst.with_suffix(".ogg")), data, rate, format="OGG", subtype="VORBIS")
    return rate, info.channels, round(len(data) / rate, 3), True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debs", type=Path, default=Path("/tmp"), help="folder holding the extracted packages")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    rng = random.Random(SEED)
    rows = []
    for short, (package, folder) in PACKAGES.items():
        root = args.debs / folder
        pkg_name = package.split()[0]
        copyright_file = args.debs / f"x_{pkg_name}" / "usr/share/doc" / pkg_name / "copyright"
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(copyright_file, args.out / f"COPYRIGHT.{pkg_name}")
        table = stanzas(copyright_file)
        files = candidates(root)
        files = select_0ad(files, root, rng) if short == "0ad" else files
        for src in files:
            rel = str(src.relative_to(root))
            name = re.sub(r"[^A-Za-z0-9._-]", "_", rel.replace("/", "__"))
            dst = args.out / short / name
            rate, channels, seconds, trimmed = write_clip(src, dst)
            lic, stanza = licence(PACKAGE_PATH_PREFIX[short] + rel, table)
            file = f"{short}/{dst.with_suffix('.ogg').name if trimmed else name}"
            rows.append(dict(zip(MANIFEST_COLUMNS, (file, category(rel), package, rel, lic, stanza, rate, channels, seconds, int(trimmed)))))
    with open(args.out / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} files -> {args.out}")


if __name__ == "__main__":
    main()
