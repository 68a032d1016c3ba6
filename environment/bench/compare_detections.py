#!/usr/bin/python3
"""Compares `maskrcnn benchmark`'s last detections (JSON) with the peer's (detections.pt): same count, and each
peer detection matched by label, box IoU ≥ 0.99 and |Δscore| ≤ 1e-3. Prints 'equal' or what differs."""
import json, sys
import torch
from torchvision.ops import box_iou

ours = json.load(open(sys.argv[1]))["last_detections"]
peer = torch.load(sys.argv[2])
ob = torch.tensor([d["box"] for d in ours]).reshape(-1, 4)
if len(ours) != len(peer["boxes"]):
    print(f"different counts: ours {len(ours)}, peer {len(peer['boxes'])}"); sys.exit(1)
iou = box_iou(peer["boxes"], ob) if len(ours) else torch.zeros(0, 0)
used, misses = set(), 0
for i in range(len(peer["boxes"])):
    best = max(((iou[i, j].item(), j) for j in range(len(ours)) if j not in used and ours[j]["label"] == int(peer["labels"][i])), default=(0, -1))
    if best[0] >= 0.99 and abs(ours[best[1]]["score"] - float(peer["scores"][i])) <= 1e-3:
        used.add(best[1])
    else:
        misses += 1
print("equal" if misses == 0 else f"{misses} of {len(ours)} detections differ")
sys.exit(0 if misses == 0 else 1)
