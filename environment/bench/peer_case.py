#!/usr/bin/python3
"""Exports the reference peer's model, image and detections so that `maskrcnn benchmark` runs the very same
weights on the very same image:

    /usr/bin/python3 environment/bench/peer_case.py --peer-dir DIR --backbone resnet50 --size 512 --out CASE_DIR

The model is built by the peer's own build_model() (imported from peer_bench.py, not copied) after
torch.manual_seed(seed), and the image is the next torch.rand(3, N, N) — exactly the sequence peer_bench.py's
inference mode uses, so the peer's timed runs and this export see identical tensors."""
import argparse, os, sys
from collections import OrderedDict

ap = argparse.ArgumentParser()
ap.add_argument("--peer-dir", required=True)
ap.add_argument("--backbone", required=True)
ap.add_argument("--size", type=int, required=True)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--out", required=True)
a = ap.parse_args()
sys.path.insert(0, a.peer_dir)
import torch
from peer_bench import build_model

os.makedirs(a.out, exist_ok=True)
torch.manual_seed(a.seed)
model = build_model(a.backbone, a.size, None)
model.eval()
img = torch.rand(3, a.size, a.size)
with torch.no_grad():
    out = model([img])[0]
torch.save(model.state_dict(), os.path.join(a.out, "weights.pth"))
torch.save(OrderedDict(image=img.clone()), os.path.join(a.out, "image.pt"))
torch.save(OrderedDict(boxes=out["boxes"].clone(), labels=out["labels"].clone(), scores=out["scores"].clone()), os.path.join(a.out, "detections.pt"))
print(f"{a.backbone} {a.size}: {len(out['boxes'])} detections")
