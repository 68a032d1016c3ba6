#!/usr/bin/python3
"""Compares two COCO detection result files of the same images (as `maskrcnn predict --coco-json` writes them), e.g.
float32 against bfloat16 inference: each detection of the first is matched to an unused one of the second with the same
label and the highest box IoU. Prints how many match at IoU >= 0.9, their IoU and score differences, overall and for
the detections at or above --confidence (the clinical threshold, 0.9)."""
import argparse, collections, json

ap = argparse.ArgumentParser()
ap.add_argument("reference"); ap.add_argument("other"); ap.add_argument("--confidence", type=float, default=0.9)
a = ap.parse_args()

def load(path):
    by_image = collections.defaultdict(list)
    for r in json.load(open(path)):
        by_image[r["image_id"]].append(r)
    return by_image

def iou(p, q):
    (ax, ay, aw, ah), (bx, by, bw, bh) = p, q
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx)); iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter) if inter > 0 else 0.0

ref, other = load(a.reference), load(a.other)
rows = {"all": [0, []], f"score >= {a.confidence}": [0, []]}
for image, dets in ref.items():
    used = set()
    for r in sorted(dets, key=lambda d: -d["score"]):
        cands = [(iou(r["bbox"], o["bbox"]), j) for j, o in enumerate(other.get(image, []))
                 if j not in used and o["category_id"] == r["category_id"]]
        best = max(cands, default=(0.0, -1))
        keys = ["all"] + ([f"score >= {a.confidence}"] if r["score"] >= a.confidence else [])
        for k in keys: rows[k][0] += 1
        if best[0] >= 0.9:
            used.add(best[1])
            for k in keys: rows[k][1].append((best[0], abs(other[image][best[1]]["score"] - r["score"])))
n_other = sum(len(v) for v in other.values())
n_other_conf = sum(1 for v in other.values() for o in v if o["score"] >= a.confidence)
print(f"detections: reference {sum(len(v) for v in ref.values())}, other {n_other} ({n_other_conf} at score >= {a.confidence})")
for name, (total, matched) in rows.items():
    if not matched:
        print(f"{name}: 0 of {total} matched"); continue
    ious = [m[0] for m in matched]; ds = [m[1] for m in matched]
    print(f"{name}: {len(matched)} of {total} matched (same label, IoU >= 0.9); IoU mean {sum(ious)/len(ious):.4f} "
          f"min {min(ious):.4f}; |score difference| mean {sum(ds)/len(ds):.5f} max {max(ds):.4f}")
