#!/usr/bin/python3
"""Exports the side-by-side case's torchvision model to ONNX, for the ONNX Runtime peer (onnx-peer/):

    /usr/bin/python3 environment/bench/onnx_export.py --peer-dir DIR --backbone resnet50 --size 512 --case CASE_DIR

CASE_DIR is what peer_case.py wrote (weights.pth, image.pt, detections.pt). The model is built by the peer's own
build_model() (imported from peer_bench.py, not copied), the case's weights are loaded into it, and it is exported
as torchvision's own ONNX tests export Mask R-CNN: eval mode, traced on the case's image (a list of one [3, H, W]
tensor), opset 11, constant folding, inputs "images_tensors", outputs boxes / labels / scores / masks, with the
image's and the outputs' sizes as dynamic axes (a deployed model takes any image size). Writes into CASE_DIR:

  model.onnx       the exported graph with its weights
  image.f32        the case's image as raw little-endian float32, C order [3, H, W] (read by onnx-peer)
  onnx_case.json   {"opset", "torch", "torchvision", "image_shape", "input", "outputs", "torch_detections"}

and checks that the traced model still gives the case's detections (same count) before exporting."""
import argparse, json, os, sys

ap = argparse.ArgumentParser()
ap.add_argument("--peer-dir", required=True)
ap.add_argument("--backbone", required=True)
ap.add_argument("--size", type=int, required=True)
ap.add_argument("--case", required=True, help="the folder peer_case.py wrote")
ap.add_argument("--opset", type=int, default=11)
a = ap.parse_args()
sys.path.insert(0, a.peer_dir)
import torch
import torchvision
from peer_bench import build_model

model = build_model(a.backbone, a.size, None)
model.load_state_dict(torch.load(os.path.join(a.case, "weights.pth")))
model.eval()
image = torch.load(os.path.join(a.case, "image.pt"))["image"].contiguous()
expected = torch.load(os.path.join(a.case, "detections.pt"))
with torch.no_grad():
    out = model([image])[0]
if len(out["boxes"]) != len(expected["boxes"]):
    sys.exit(f"{a.case}: the loaded model gives {len(out['boxes'])} detections, the case {len(expected['boxes'])}")

onnx_path = os.path.join(a.case, "model.onnx")
outputs = ["boxes", "labels", "scores", "masks"]
torch.onnx.export(
    model,
    ([image],),
    onnx_path,
    do_constant_folding=True,
    opset_version=a.opset,
    input_names=["images_tensors"],
    output_names=outputs,
    dynamic_axes={"images_tensors": [0, 1, 2], "boxes": [0, 1], "labels": [0], "scores": [0], "masks": [0, 1, 2]},
)
image.numpy().astype("<f4").tofile(os.path.join(a.case, "image.f32"))
with open(os.path.join(a.case, "onnx_case.json"), "w") as f:
    json.dump(
        {
            "opset": a.opset,
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "image_shape": list(image.shape),
            "input": "images_tensors",
            "outputs": outputs,
            "torch_detections": len(expected["boxes"]),
        },
        f,
    )
print(f"{a.backbone} {a.size}: {onnx_path} ({os.path.getsize(onnx_path) / 1e6:.1f} MB), opset {a.opset}")
