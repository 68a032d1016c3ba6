#!/usr/bin/python3
"""Compares `maskrcnn benchmark`'s last detections (JSON; the ONNX Runtime peer writes the same form) with the peer's
(detections.pt): same count, and each peer detection matched by label, box IoU ≥ 0.99 and |Δscore| ≤ 1e-3. Prints
'equal' or what differs; with --stats also, over each peer detection and its same-label partner (the best IoU among
those not yet taken), the largest |Δscore|, the smallest IoU and the largest coordinate difference in pixels.

    compare_detections.py OURS.json detections.pt [--stats]"""
import json, sys
import torch
from torchvision.ops import box_iou

args = [a for a in sys.argv[1:] if a != "--stats"]
stats = "--stats" in sys.argv[1:]
ours = json.load(open(args[0]))["last_detections"]
peer = torch.load(args[1])
ob = torch.tensor([d["box"] for d in ours]).reshape(-1, 4)
if len(ours) != len(peer["boxes"]):
    print(f"different counts: ours {len(ours)}, peer {len(peer['boxes'])}"); sys.exit(1)
iou = box_iou(peer["boxes"], ob) if len(ours) else torch.zeros(0, 0)
used, misses = set(), 0
worst_score, worst_iou, worst_coordinate = 0.0, 1.0, 0.0
for i in range(len(peer["boxes"])):
    best = max(((iou[i, j].item(), j) for j in range(len(ours)) if j not in used and ours[j]["label"] == int(peer["labels"][i])), default=(0, -1))
    if best[1] >= 0:
        worst_score = max(worst_score, abs(ours[best[1]]["score"] - float(peer["scores"][i])))
        worst_iou = min(worst_iou, best[0])
        worst_coordinate = max(worst_coordinate, (ob[best[1]] - peer["boxes"][i]).abs().max().item())
    else:
        worst_iou = 0.0  # no partner of its label left
    if best[0] >= 0.99 and abs(ours[best[1]]["score"] - float(peer["scores"][i])) <= 1e-3:
        used.add(best[1])
    else:
        misses += 1
verdict = "equal" if misses == 0 else f"{misses} of {len(ours)} detections differ"
if stats:
    verdict += f" (max |Δscore| {worst_score:.1e}, min IoU {worst_iou:.4f}, max |Δbox| {worst_coordinate:.1e} px)"
print(verdict)
sys.exit(0 if misses == 0 else 1)
