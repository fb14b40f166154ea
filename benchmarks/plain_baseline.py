"""The chapter's baseline as a plain fastai script: the harness's twin, with none of the harness.

    python benchmarks/plain_baseline.py --data-dir DIR --weights FILE.pth [--arch resnet34]
        [--presize 460] [--size 224] [--bs 64] [--epochs 2] [--seed 0] [--workers N]

A DataBlock over a Pets-layout folder (``<class>_<n>.jpg``), ``vision_learner`` with ImageNet-style
weights read from a file (torchvision's state dict for the arch), ``fine_tune``, and the seed protocol
recipebench documents. It prints the error rate, the per-epoch error rates and the wall time.

With the same data, arch, weights, sizes, batch size, workers and seed, recipebench's ``baseline``
(``pytest recipes/ --benchmark-only --recipe baseline``) must train exactly this, bit for bit on a
CPU: the harness measures the recipe, it never changes what is trained (``tests/test_twin.py``).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

#: fastai's model_meta for the archs recipebench knows; mobilenet_v2 is not in fastai's table.
ARCHS = ("resnet18", "resnet34", "resnet50", "mobilenet_v2")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="a folder of <class>_<n>.jpg images")
    parser.add_argument("--weights", type=Path, help="a torchvision state dict for --arch (default: random init)")
    parser.add_argument("--arch", default="resnet34", choices=ARCHS)
    parser.add_argument("--presize", type=int, default=460, help="Resize(PRESIZE) item transform, px")
    parser.add_argument("--size", type=int, default=224, help="aug_transforms(size=SIZE, min_scale=0.75), px")
    parser.add_argument("--bs", type=int, default=64, help="batch size")
    parser.add_argument("--epochs", type=int, default=2, help="fine_tune(EPOCHS)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: fastai's)")
    parser.add_argument("--label-re", default=r"(.+)_\d+.jpg$", help="the label regex on file names")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = parser.parse_args(argv)

    import torch
    import torchvision
    from fastai.vision.all import (
        CategoryBlock,
        CSVLogger,
        DataBlock,
        ImageBlock,
        RandomSplitter,
        RegexLabeller,
        Resize,
        aug_transforms,
        default_split,
        error_rate,
        get_image_files,
        imagenet_stats,
        model_meta,
        set_seed,
        using_attr,
        vision_learner,
    )

    torchvision_arch = getattr(torchvision.models, args.arch)

    def arch(pretrained: bool = True):
        """The torchvision model, its weights read from --weights (the ImageNet head, if any, is cut off)."""
        model = torchvision_arch(weights=None)
        if pretrained and args.weights is not None:
            model.load_state_dict(torch.load(args.weights, map_location="cpu", weights_only=True), strict=False)
        return model

    # fastai's cut, split and normalisation stats for the arch (mobilenet_v2: body = features, as fastai's
    # default cut would find it, and ImageNet stats).
    meta = dict(model_meta.get(torchvision_arch, {"cut": -1, "split": default_split, "stats": imagenet_stats}))
    meta.pop("weights", None)  # weights come from --weights, not from torchvision's download
    model_meta[arch] = meta

    # The seed protocol: seed, build the DataLoaders (RandomSplitter(seed=42) re-seeds torch), seed again.
    set_seed(args.seed, reproducible=False)
    block = DataBlock(blocks=(ImageBlock, CategoryBlock),
                      get_items=lambda path: sorted(get_image_files(path)),
                      splitter=RandomSplitter(valid_pct=0.2, seed=42),
                      get_y=using_attr(RegexLabeller(args.label_re), "name"),
                      item_tfms=Resize(args.presize),
                      batch_tfms=aug_transforms(size=args.size, min_scale=0.75))
    workers = {} if args.workers is None else {"num_workers": args.workers}
    dls = block.dataloaders(args.data_dir, bs=args.bs, **workers)
    set_seed(args.seed, reproducible=False)
    learn = vision_learner(dls, arch, metrics=error_rate, pretrained=args.weights is not None)

    with tempfile.TemporaryDirectory() as tmp:
        history = Path(tmp) / "history.csv"  # every epoch of both fits of fine_tune (fastai's CSVLogger)
        logger = CSVLogger(fname=history, append=True)
        learn.add_cb(logger)
        t0 = time.perf_counter()
        with learn.no_bar(), learn.no_logging():
            learn.fine_tune(args.epochs)
        wall_s = time.perf_counter() - t0
        learn.remove_cb(logger)
        rows = [line.split(",") for line in history.read_text().splitlines() if not line.startswith("epoch")]
    with learn.no_bar():
        valid_loss, error = learn.validate()
    result = {"error_rate": float(error), "valid_loss": float(valid_loss),
              "epoch_error_rates": [float(r[3]) for r in rows], "train_losses": [float(r[1]) for r in rows],
              "wall_s": wall_s,
              "n_train": len(dls.train_ds), "n_valid": len(dls.valid_ds), "seed": args.seed, "arch": args.arch}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"error_rate {error:.4f} (epochs: {', '.join(f'{e:.4f}' for e in result['epoch_error_rates'])}); "
              f"fine_tune({args.epochs}) took {wall_s:.1f} s; {result['n_train']} train / {result['n_valid']} valid "
              f"images; {args.arch}, seed {args.seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
