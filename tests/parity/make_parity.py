#!/usr/bin/python3
"""Builds the end-to-end parity case (large files: not committed; the tests build it on demand):

    /usr/bin/python3 tests/parity/make_parity.py OUT_DIR

Writes into OUT_DIR, from torchvision 0.14 (Debian's python3-torchvision):
  weights_new.pth   maskrcnn_resnet50_fpn(num_classes=3) state_dict, current key names, BatchNorm2d layout
                    (random init; BatchNorm statistics calibrated on images; RPN objectness and class
                    logits scaled up so scores spread out instead of all sitting near 0.5 / 1/3)
  weights_old.pth   the same weights in the published COCO checkpoints' layout: FrozenBatchNorm2d (no
                    num_batches_tracked) and pre-0.13 names (inner_blocks.i.weight, head.conv.weight, mask_fcnN)
  image.png         a 480x640 RGB test image (smooth texture with bright and dark blobs)
  expected.pt       torchvision's predictions at min_size = max_size = 512, box_score_thresh = 0.05:
                    boxes, labels, scores, masks (binarised at 0.5, uint8)
"""
import os, sys
from collections import OrderedDict

import torch
import torch.nn.functional as F
import torchvision
from torchvision.io import read_image, write_png

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
torch.set_num_threads(2)


def texture(h, w, seed):
    g = torch.Generator().manual_seed(seed)
    img = F.interpolate(torch.rand(1, 3, h // 16, w // 16, generator=g), size=(h, w), mode="bilinear", align_corners=False)[0]
    img = 0.6 * img + 0.1 * torch.rand(3, h, w, generator=g)
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    for _ in range(6):
        cy, cx = torch.rand(2, generator=g) * torch.tensor([h, w])
        ry, rx = 20 + torch.rand(2, generator=g) * 80
        blob = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1).float()
        img = img * (1 - blob) + blob * (0.9 if torch.rand(1, generator=g) > 0.5 else 0.05)
    return img.clamp(0, 1)


model = torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=3,
                                                           min_size=512, max_size=512, box_score_thresh=0.05)
# Calibrate BatchNorm statistics: cumulative averages over a few normalised images.
for m in model.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.reset_running_stats()
        m.momentum = None
model.train()
with torch.no_grad():
    for s in range(8):
        imgs = [texture(384, 512, 100 + s)]
        il, _ = model.transform(imgs)
        model.backbone(il.tensors)
model.eval()
with torch.no_grad():
    # Spread the RPN objectness logits to a standard deviation of 2 on a calibration image: random heads give
    # logits within ±0.05 (every score ~0.5), and near-ties make the top-n and NMS order arbitrary.
    il, _ = model.transform([texture(384, 512, 99)])
    logits, _ = model.rpn.head(list(model.backbone(il.tensors).values()))
    model.rpn.head.cls_logits.weight.mul_(2.0 / torch.cat([l.flatten() for l in logits]).std())
    model.roi_heads.box_predictor.cls_score.weight.mul_(12.0)
    model.roi_heads.mask_predictor.mask_fcn_logits.weight.mul_(4.0)

sd = model.state_dict()
torch.save(sd, os.path.join(out, "weights_new.pth"))
old = OrderedDict()
for k, v in sd.items():
    if k.endswith("num_batches_tracked"):
        continue
    nk = k
    for part in ("inner_blocks", "layer_blocks"):
        if f"fpn.{part}." in k:
            pre, rest = k.split(f"fpn.{part}.")
            i, _, t = rest.split(".")
            nk = f"{pre}fpn.{part}.{i}.{t}"
    if k.startswith("rpn.head.conv.0.0."):
        nk = "rpn.head.conv." + k.split(".")[-1]
    if k.startswith("roi_heads.mask_head."):
        i, _, t = k[len("roi_heads.mask_head."):].split(".")
        nk = f"roi_heads.mask_head.mask_fcn{int(i) + 1}.{t}"
    old[nk] = v
torch.save(old, os.path.join(out, "weights_old.pth"))

img = (texture(480, 640, 7) * 255).round().to(torch.uint8)
write_png(img, os.path.join(out, "image.png"))
x = read_image(os.path.join(out, "image.png")).float() / 255
with torch.no_grad():
    pred = model([x])[0]
torch.save(OrderedDict(boxes=pred["boxes"].clone(), labels=pred["labels"].clone(), scores=pred["scores"].clone(),
                       masks=(pred["masks"][:, 0] > 0.5).to(torch.uint8).clone()), os.path.join(out, "expected.pt"))
print(f"{len(pred['boxes'])} detections; scores {pred['scores'].min():.3f}..{pred['scores'].max():.3f}; "
      f"labels {pred['labels'].bincount().tolist()}")
