#!/usr/bin/python3
"""The speed table of `make bench`: ssl-tools' training epochs against the sgemm floor of the same
products, and against the same networks in PyTorch, in one run on this machine.

Every configuration runs in its own process (so its peak RSS is its own): bench_train NET at 1 and
2 threads; torch_*.py with PyTorch's default threads (its usual setting), 1 thread, and 2
threads with OMP_WAIT_POLICY=PASSIVE. The configurations are interleaved (all of them once, then
all again, REPS times) and each keeps its best time: the machine may be shared, and the best run
is the least disturbed. Times are seconds per 60000-row epoch (networks too slow to run a whole
epoch REPS times train on fewer rows, scaled; the rows column says so).

Usage: report.py [--build DIR] [--reps N] [--quick] [--nets mlp,m1,...]"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# net: (rows timed (full, quick), torch script or None, description)
NETS = {
    "mlp": ((60000, 20000), "torch_mlp.py", "ssl-fit MLP 784-128-64-10, batch 200"),
    "mlp-digits": ((1257, 1257), None, "ssl-fit MLP 64-128-64-10 (digits), batch 200"),
    "m1": ((60000, 10000), "torch_vae.py", "ssl-vae M1 784-512-256-32, ReLU, Bernoulli, batch 128"),
    "m2": ((3000, 1000), "torch_m2.py", "ssl-vae M2 as fashion-mnist.mk's M2_ARGS: hidden 256, latent 16, softplus, "
                                        "Bernoulli; 100 lab + 100 unl x 10 classes a step"),
    "gan": ((3000, 1000), "torch_gan.py", "ssl-gan D 784-1000-500-250x3-10, G 100-500-500-784, batch 3x100"),
    "vat": ((3000, 1000), None, "ssl-fit VAT+EntMin, MLP 784-1200-1200-10 with batch norm; 100 lab + 250 unl a step"),
}
TORCH_SETTINGS = [("default", 0, {}), ("1 thread", 1, {}), ("2 thr PASSIVE", 2, {"OMP_WAIT_POLICY": "PASSIVE"})]


def parse_line(out):
    for line in out.splitlines():
        if line.startswith("net="):
            return dict(kv.split("=", 1) for kv in line.split())
    return None


def run(cmd, env_extra):
    env = dict(os.environ, **env_extra)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    r = parse_line(p.stdout)
    if p.returncode != 0 or r is None:
        sys.stderr.write(f"report.py: {' '.join(cmd)} failed:\n{p.stderr}")
        return None
    return r


def have_torch():
    return subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1 repetition on fewer rows")
    ap.add_argument("--nets", default=",".join(NETS))
    a = ap.parse_args()
    reps = 1 if a.quick else a.reps
    nets = a.nets.split(",")
    bench = os.path.join(a.build, "bench", "bench_train")
    torch_ok = have_torch()
    best = {}   # (net, setting) -> result dict with the best epoch60k_s (floor: its own best)

    def keep(key, r):
        if r is None:
            return
        b = best.get(key)
        if b is None:
            best[key] = r
            return
        if float(r["epoch60k_s"]) < float(b["epoch60k_s"]):
            r_floor = r.get("floor_s")
            r, b = dict(r), b
            best[key] = r
            if r_floor is not None and float(b["floor_s"]) < float(r_floor):
                r["floor_s"] = b["floor_s"]
        elif "floor_s" in r and float(r["floor_s"]) < float(b["floor_s"]):
            b["floor_s"] = r["floor_s"]

    for rep in range(reps):
        for net in nets:
            rows = NETS[net][0][1 if a.quick else 0]
            for t in (1, 2):
                sys.stderr.write(f"[{rep + 1}/{reps}] {net} ssl-tools {t} thread(s)\n")
                keep((net, f"ssl{t}"), run([bench, net, "--rows", str(rows), "--threads", str(t)], {}))
            script = NETS[net][1]
            if script and torch_ok:
                for name, th, env in TORCH_SETTINGS:
                    sys.stderr.write(f"[{rep + 1}/{reps}] {net} torch {name}\n")
                    keep((net, name), run([sys.executable, os.path.join(HERE, script), "--rows", str(rows),
                                           "--threads", str(th)], env))

    print(f"Training epochs, seconds per 60000-row epoch (Fashion-MNIST shapes); best of {reps} interleaved "
          f"repetition(s) per configuration, each in its own process (the machine may be shared).")
    print("ssl-tools vs the sgemm floor: the epoch's products (shapes, transposes) replayed back to back as "
          "cblas_sgemm calls on OpenBLAS's own threads.")
    for net in nets:
        print(f"  {net}: {NETS[net][2]}")
    print()
    hdr = f"{'network':<11} {'rows':>6} {'data':<13} {'thr':>3} {'epoch s':>9} {'GFLOP/s':>8} {'floor GF/s':>10} " \
          f"{'ratio':>6} {'in sgemm':>8} {'RSS MB':>7}"
    print(hdr)
    for net in nets:
        for t in (1, 2):
            r = best.get((net, f"ssl{t}"))
            if r is None:
                print(f"{net:<11} (failed)")
                continue
            e, f, g = float(r["epoch_s"]), float(r["floor_s"]), float(r["gflop"])
            print(f"{net:<11} {r['rows']:>6} {r['data']:<13} {t:>3} {float(r['epoch60k_s']):>9.3f} {g / e:>8.1f} "
                  f"{g / f:>10.1f} {f / e:>6.2f} {float(r['in_sgemm_s']) / e:>7.0%} {float(r['rss_mb']):>7.0f}")
    print()
    print("ratio = floor time / epoch time (>= 0.70 is the goal); in sgemm = share of the epoch spent inside its products.")
    print()
    if not torch_ok:
        print("PyTorch: skipped (python3-torch is not installed: apt-get install python3-torch).")
        return
    cols = [n for n, _, _ in TORCH_SETTINGS]
    print("ssl-tools vs PyTorch " + __import__("torch").__version__ + " (CPU, float32, same networks, batch sizes "
          "and data), seconds per 60000-row epoch")
    print(f"{'network':<11} {'ssl 1thr':>9} {'ssl 2thr':>9} " + " ".join(f"{c:>14}" for c in cols) +
          f" {'torch best':>10} {'ssl best/torch best':>20} {'torch RSS':>9}")
    for net in nets:
        if not NETS[net][1]:
            print(f"{net:<11} (no PyTorch reference script)")
            continue
        s = [best.get((net, f"ssl{t}")) for t in (1, 2)]
        tt = [best.get((net, c)) for c in cols]
        sv = [float(r["epoch60k_s"]) if r else float("inf") for r in s]
        tv = [float(r["epoch60k_s"]) if r else float("inf") for r in tt]
        rss = max(float(r["rss_mb"]) for r in tt if r) if any(tt) else float("nan")
        print(f"{net:<11} {sv[0]:>9.3f} {sv[1]:>9.3f} " + " ".join(f"{v:>14.3f}" for v in tv) +
              f" {min(tv):>10.3f} {min(sv) / min(tv):>20.2f} {rss:>9.0f}")
    print()
    print("ssl best/torch best: < 0.67 means ssl-tools is at least 1.5x faster than PyTorch's best setting.")


if __name__ == "__main__":
    main()
