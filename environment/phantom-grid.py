#!/usr/bin/env python3
"""A preview grid of a data folder's split: thumbnails with the annotated lesions outlined (green benign, red
malignant). Used for data/README.md's pictures (needs python3-pil).

    python3 environment/phantom-grid.py SPLIT_DIR OUT.(png|jpg) [COUNT] [COLUMNS]"""
import json
import sys

from PIL import Image, ImageDraw

split, out = sys.argv[1], sys.argv[2]
count = int(sys.argv[3]) if len(sys.argv) > 3 else 12
columns = int(sys.argv[4]) if len(sys.argv) > 4 else 4
via = json.load(open(f"{split}/via_region_data.json", encoding="utf-8"))
tiles = []
for entry in list(via.values())[:count]:
    image = Image.open(f"{split}/{entry['filename']}").convert("RGB")
    draw = ImageDraw.Draw(image)
    regions = entry["regions"] if isinstance(entry["regions"], list) else list(entry["regions"].values())
    for region in regions:
        shape = region["shape_attributes"]
        points = list(zip(shape["all_points_x"], shape["all_points_y"]))
        colour = (40, 220, 80) if region["region_attributes"].get("class") == "benign" else (240, 60, 60)
        draw.line(points + [points[0]], fill=colour, width=2)
    image.thumbnail((320, 320))
    tiles.append(image)
width, height = max(t.width for t in tiles), max(t.height for t in tiles)
rows = (len(tiles) + columns - 1) // columns
grid = Image.new("RGB", (columns * (width + 6), rows * (height + 6)), "white")
for i, tile in enumerate(tiles):
    grid.paste(tile, ((i % columns) * (width + 6), (i // columns) * (height + 6)))
grid.save(out, quality=80) if out.lower().endswith((".jpg", ".jpeg")) else grid.save(out, optimize=True)
