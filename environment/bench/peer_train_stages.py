#!/usr/bin/python3
"""Times one training step of the reference peer phase by phase, with the same split as
`maskrcnn benchmark --mode train --stages` (TrainingStepProfiler): forward stages, backward of the RoI heads' losses,
of the RPN's losses, then of the backbone + FPN (fed both heads' feature gradients), then the optimizer step.
Same protocol as peer_bench.py: 2 random images, 1 and 2 random targets, SGD lr 0.01 momentum 0.9, initial weights
and a fresh optimizer restored (untimed) before every step.

    OPENBLAS_NUM_THREADS=2 /usr/bin/python3 environment/bench/peer_train_stages.py --peer-dir DIR --threads 2

Prints one JSON object: {"stages": [{"stage", "median_s"}...], "total_s", "threads", "torch"}."""
import argparse, copy, json, statistics, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--peer-dir", required=True)
ap.add_argument("--backbone", default="resnet50")
ap.add_argument("--size", type=int, default=512)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--warmup", type=int, default=1)
ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()
sys.path.insert(0, a.peer_dir)
import torch
from peer_bench import build_model, make_targets

torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
model = build_model(a.backbone, a.size, None)
model.train()
gen = torch.Generator().manual_seed(a.seed + 1)
images = [torch.rand(3, a.size, a.size, generator=gen) for _ in range(2)]
targets = make_targets(torch, a.size, [1, 2], gen)
params = [p for p in model.parameters() if p.requires_grad]
initial = copy.deepcopy(model.state_dict())
names = ["zero_grad", "preprocess (normalise, resize, pad)", "forward: backbone + FPN",
         "forward: RPN (head, proposals, matching, losses)",
         "forward: RoI heads (sampling, RoIAlign, box + mask heads, losses)",
         "backward: RoI heads", "backward: RPN", "backward: backbone + FPN", "optimizer step"]
times = {n: [] for n in names}

for run in range(a.warmup + a.runs):
    model.load_state_dict(initial)
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    marks = [time.perf_counter()]
    opt.zero_grad(); marks.append(time.perf_counter())
    image_list, resized = model.transform(images, targets); marks.append(time.perf_counter())
    features = model.backbone(image_list.tensors); marks.append(time.perf_counter())
    for_rpn = {k: v.detach().requires_grad_() for k, v in features.items()}
    for_heads = {k: v.detach().requires_grad_() for k, v in features.items()}
    proposals, rpn_losses = model.rpn(image_list, for_rpn, resized); marks.append(time.perf_counter())
    _, head_losses = model.roi_heads(for_heads, proposals, image_list.image_sizes, resized); marks.append(time.perf_counter())
    sum(head_losses.values()).backward(); marks.append(time.perf_counter())
    sum(rpn_losses.values()).backward(); marks.append(time.perf_counter())
    grads = [sum(g for g in (for_rpn[k].grad, for_heads[k].grad) if g is not None) for k in features]
    torch.autograd.backward([features[k] for k in features], [g if torch.is_tensor(g) else torch.zeros_like(features[k])
                                                              for k, g in zip(features, grads)])
    marks.append(time.perf_counter())
    opt.step(); marks.append(time.perf_counter())
    if run >= a.warmup:
        for name, t0, t1 in zip(names, marks, marks[1:]):
            times[name].append(t1 - t0)

stages = [{"stage": n, "median_s": round(statistics.median(times[n]), 4)} for n in names]
print(json.dumps({"stages": stages, "total_s": round(sum(s["median_s"] for s in stages), 4),
                  "threads": torch.get_num_threads(), "torch": torch.__version__}))
