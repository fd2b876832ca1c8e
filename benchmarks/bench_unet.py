"""U-Net throughput: inference and training frames/s at 256x256, CPU and CUDA.

Usage::

    python benchmarks/bench_unet.py --device cpu --quick          # CPU, small + default configs
    python benchmarks/bench_unet.py --device cuda                  # GPU, all variants, anchor config
    python benchmarks/bench_unet.py --device cuda --batch 512 --iters 50 --json unet.json

Configurations (``--configs``): ``small`` (3 poolings, 8 channels, the sweep's CPU
setting), ``default`` (``UNetConfig()``: 4 poolings, 16 channels) and ``anchor``
(4 poolings, 32 channels, 7.8 M parameters: the configuration of the speed
anchors in ANCHORS.md and of the GPU targets).

Variants timed:

- CPU: ``infer fp32`` (eval model), ``infer fp32 folded`` (BatchNorm folded,
  channels_last: what ``lusfeat segment`` runs), ``train fp32`` (forward, loss,
  backward, AdamW step).
- CUDA (data already on the GPU, no host syncs inside the timed loop):
  ``infer fp32``, ``infer bf16 autocast`` (channels_last), ``infer bf16 folded``
  (pure bf16 weights, BatchNorm folded), ``infer bf16 compiled`` (the folded
  network under ``torch.compile(mode="max-autotune-no-cudagraphs")``),
  ``infer bf16 compiled+graph`` (the compiled network captured in a CUDA graph
  and replayed), ``train bf16 autocast`` (eager), ``train bf16 compiled``, and
  ``train bf16 compiled+graph`` (forward, backward and a capturable AdamW step
  captured as one CUDA graph).

Prints a table, then one JSON document (also written to ``--json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable

import torch

from lusfeat.seg import UNet, UNetConfig, seg_loss
from lusfeat.seg._fast import prepare_inference

CONFIGS = {
    "small": UNetConfig(depth=3, width=8),
    "default": UNetConfig(),
    "anchor": UNetConfig(depth=4, width=32),
}


def gflop_per_frame(cfg: UNetConfig, size: int) -> float:
    """Forward GFLOP per frame (multiply-add = 2 FLOP), counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    net = UNet(cfg).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        net(torch.zeros(1, 1, size, size))
    return counter.get_total_flops() / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timeit(fn: Callable[[], object], device: torch.device, iters: int, warmup: int) -> float:
    """Seconds per call (mean over ``iters`` after ``warmup`` calls); one sync at each end."""
    for _ in range(warmup):
        fn()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    _sync(device)
    return (time.perf_counter() - t0) / iters


def _graph(fn: Callable[[], object], device: torch.device) -> Callable[[], object]:
    """Capture ``fn`` (static inputs) in a CUDA graph and return its replay."""
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.current_stream(device).wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def cpu_name() -> str:
    """CPU model from /proc/cpuinfo (Linux), else the platform's machine name."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cases(
    cfg: UNetConfig, device: torch.device, batch: int, size: int, compile_mode: str
) -> dict[str, Callable[[], Callable]]:
    """Name -> builder returning the function to time (one call = one batch)."""
    torch.manual_seed(0)
    x = torch.randn(batch, 1, size, size, device=device)
    xcl = x.contiguous(memory_format=torch.channels_last)
    target = (torch.rand(batch, cfg.out_channels, size, size, device=device) > 0.9).float()
    weight = torch.ones_like(target)
    cuda = device.type == "cuda"
    shared: dict[str, object] = {}  # compiled networks, reused by the CUDA-graph variants

    def eval_net() -> UNet:
        torch.manual_seed(0)
        return UNet(cfg).to(device).eval()

    def infer_fp32():
        net = eval_net().to(memory_format=torch.channels_last)
        return torch.no_grad()(lambda: net(xcl))

    def infer_folded_fp32():
        net = prepare_inference(eval_net(), device, bf16=False)
        return torch.no_grad()(lambda: net(xcl))

    def infer_autocast():
        net = eval_net().to(memory_format=torch.channels_last)

        @torch.no_grad()
        def run():
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return net(xcl)

        return run

    def infer_folded_bf16(compiled: bool = False, graph: bool = False):
        if compiled and "infer" in shared:
            net = shared["infer"]
        else:
            net = prepare_inference(eval_net(), device, bf16=True)
            if compiled:
                net = shared["infer"] = torch.compile(net, mode=compile_mode)
        xb = xcl.to(torch.bfloat16)
        run = torch.no_grad()(lambda: net(xb))
        return _graph(run, device) if graph else run

    def train_step(compiled: bool = False, graph: bool = False):
        if compiled and "train" in shared:
            net, fwd = shared["train"]
        else:
            torch.manual_seed(0)
            net = UNet(cfg).to(device).to(memory_format=torch.channels_last).train()
            fwd = torch.compile(net, mode=compile_mode) if compiled else net
            if compiled:
                shared["train"] = (net, fwd)
        # fused AdamW for eager/compiled steps; the graph-captured step needs capturable=True
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, capturable=graph, fused=(cuda and not graph) or None)

        def step():
            # the autocast weight cache must be off while a CUDA graph is captured
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda, cache_enabled=not graph):
                logits = fwd(xcl)
            loss = seg_loss(logits, target, weight)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=not graph)
            return loss

        if graph:
            for p in net.parameters():  # gradients must exist before capture (static buffers)
                p.grad = torch.zeros_like(p)
            return _graph(step, device)
        return step

    if not cuda:
        return {"infer fp32": infer_fp32, "infer fp32 folded": infer_folded_fp32, "train fp32": train_step}
    return {  # most informative first: a time limit cuts the tail
        "infer bf16 autocast": infer_autocast,
        "infer bf16 folded": infer_folded_bf16,
        "infer bf16 compiled": lambda: infer_folded_bf16(compiled=True),
        "infer bf16 compiled+graph": lambda: infer_folded_bf16(compiled=True, graph=True),
        "train bf16 autocast": train_step,
        "train bf16 compiled": lambda: train_step(compiled=True),
        "train bf16 compiled+graph": lambda: train_step(compiled=True, graph=True),
        "infer fp32": infer_fp32,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--batch", type=int, default=None, help="frames per call (CPU 4, CUDA 256)")
    ap.add_argument("--iters", type=int, default=None, help="timed calls per case (CPU 3, CUDA 30)")
    ap.add_argument("--size", type=int, default=256, help="frame size (pixels)")
    ap.add_argument("--configs", default=None, help="comma list of small, default, anchor "
                    "(CPU: small,default; CUDA: anchor)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--quick", action="store_true", help="fewer iterations, smaller CPU batch")
    ap.add_argument("--compile-mode", default="default",
                    help="torch.compile mode (default, max-autotune-no-cudagraphs, ...)")
    ap.add_argument("--only", default=None, help="run only cases whose name contains this text")
    ap.add_argument("--json", default=None, help="also write the JSON results to this file")
    args = ap.parse_args(argv)

    name = args.device
    device = torch.device("cuda" if name == "auto" and torch.cuda.is_available() else
                          "cpu" if name == "auto" else name)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available; use --device cpu", file=sys.stderr)
        return 2
    cuda = device.type == "cuda"
    if args.threads:
        torch.set_num_threads(args.threads)
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    batch = args.batch or (256 if cuda else (2 if args.quick else 4))
    iters = args.iters or ((10 if args.quick else 30) if cuda else (2 if args.quick else 3))
    warmup = 3 if cuda else 1
    configs = (args.configs or ("anchor" if cuda else "small,default")).split(",")
    card = torch.cuda.get_device_name(device) if cuda else cpu_name()

    results = []
    print(f"U-Net benchmark on {card} ({device}), {args.size}x{args.size}, batch {batch}, {iters} iterations, "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(f"{'config':<8} {'params':>7} {'GFLOP/f':>8}  {'case':<26} {'ms/batch':>10} {'frames/s':>10} "
          f"{'TFLOP/s':>8}")
    for cname in configs:
        cfg = CONFIGS[cname.strip()]
        gflop = gflop_per_frame(cfg, args.size)
        params = cfg.n_parameters()
        for case, build in cases(cfg, device, batch, args.size, args.compile_mode).items():
            if args.only and args.only not in case:
                continue
            row = {"config": cname, "depth": cfg.depth, "width": cfg.width, "parameters": params,
                   "gflop_per_frame_forward": round(gflop, 3), "case": case, "batch": batch,
                   "size": args.size, "device": str(device), "card": card}
            try:
                fn = build()
                sec = timeit(fn, device, iters, warmup)
                fps = batch / sec
                flop = gflop * (3 if case.startswith("train") else 1)
                row.update(ms_per_batch=round(sec * 1e3, 3), frames_per_s=round(fps, 1),
                           tflop_per_s=round(fps * flop / 1e3, 3))
                print(f"{cname:<8} {params / 1e6:6.2f}M {gflop:8.2f}  {case:<26} {sec * 1e3:10.2f} {fps:10.1f} "
                      f"{fps * flop / 1e3:8.3f}", flush=True)
            except Exception as exc:  # report and go on: one variant failing must not hide the others
                row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                print(f"{cname:<8} {params / 1e6:6.2f}M {gflop:8.2f}  {case:<26} failed: {row['error']}",
                      flush=True)
            finally:
                if cuda:
                    torch.cuda.empty_cache()
            results.append(row)
            if args.json:  # rewritten after every case, so a time limit keeps what was measured
                _write_json(args.json, card, args.compile_mode, results)
    print(json.dumps(_doc(card, args.compile_mode, results), indent=1))
    return 0


def _doc(card: str, compile_mode: str, results: list[dict]) -> dict:
    return {"benchmark": "bench_unet", "card": card, "torch": str(torch.__version__),
            "compile_mode": compile_mode, "threads": torch.get_num_threads(), "results": results}


def _write_json(path: str, card: str, compile_mode: str, results: list[dict]) -> None:
    with open(path, "w") as fh:
        json.dump(_doc(card, compile_mode, results), fh, indent=1)


if __name__ == "__main__":
    sys.exit(main())
