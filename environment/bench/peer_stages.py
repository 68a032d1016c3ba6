#!/usr/bin/python3
"""Times the reference peer's inference stage by stage, with the same stage split as `maskrcnn benchmark --stages`
(which calls the same five public stages of our model), on a case exported by peer_case.py:

    OPENBLAS_NUM_THREADS=2 /usr/bin/python3 environment/bench/peer_stages.py --peer-dir DIR --case CASE_DIR --threads 2

Prints one JSON object: {"stages": [{"stage", "median_s"}...], "total_s", "threads", "torch"}."""
import argparse, json, statistics, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--peer-dir", required=True)
ap.add_argument("--case", required=True, help="folder with weights.pth and image.pt (peer_case.py)")
ap.add_argument("--backbone", default="resnet50")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--runs", type=int, default=5)
a = ap.parse_args()
sys.path.insert(0, a.peer_dir)
import torch
from peer_bench import build_model
from torchvision.models.detection.roi_heads import maskrcnn_inference, paste_masks_in_image

torch.set_num_threads(a.threads)
img = torch.load(f"{a.case}/image.pt")["image"]
model = build_model(a.backbone, img.shape[-1], None)
model.load_state_dict(torch.load(f"{a.case}/weights.pth"))
model.eval()
heads = model.roi_heads
names = ["preprocess (normalise, resize, pad)", "backbone + FPN", "RPN (head, decode, NMS)", "box RoIAlign",
         "box head (2 FC + predictor)", "box postprocess (decode, NMS)", "mask RoIAlign",
         "mask head (4 conv + deconv + predictor)", "paste masks into the image"]
times = {n: [] for n in names}


def timed(name, f):
    start = time.perf_counter()
    result = f()
    times[name].append(time.perf_counter() - start)
    return result


with torch.no_grad():
    for run in range(a.runs + 1):
        images, _ = timed(names[0], lambda: model.transform([img]))
        features = timed(names[1], lambda: model.backbone(images.tensors))
        proposals, _ = timed(names[2], lambda: model.rpn(images, features))
        box_features = timed(names[3], lambda: heads.box_roi_pool(features, proposals, images.image_sizes))
        logits, deltas = timed(names[4], lambda: heads.box_predictor(heads.box_head(box_features)))
        boxes, scores, labels = timed(names[5], lambda: heads.postprocess_detections(logits, deltas, proposals, images.image_sizes))
        mask_features = timed(names[6], lambda: heads.mask_roi_pool(features, boxes, images.image_sizes))
        mask_logits = timed(names[7], lambda: heads.mask_predictor(heads.mask_head(mask_features)))
        probs = maskrcnn_inference(mask_logits, labels)[0]
        timed(names[8], lambda: paste_masks_in_image(probs, boxes[0], tuple(img.shape[-2:])))
        if run == 0:
            for n in names:
                times[n].clear()   # warm-up

stages = [{"stage": n, "median_s": round(statistics.median(times[n]), 4)} for n in names]
print(json.dumps({"stages": stages, "total_s": round(sum(s["median_s"] for s in stages), 4),
                  "threads": torch.get_num_threads(), "torch": torch.__version__}))
