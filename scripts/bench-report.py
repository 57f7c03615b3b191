#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make bench's report: build/bench/results.json (every figure), report.md
(the figures and ratios for a person) and, with gnuplot, gantt.png (one
MobileNet V2 run, per core) and ratios.png (each ratio against its peer)."""
import json
import os
import shutil
import subprocess
import sys
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
bdir = os.path.join(build, "bench")


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


engine = load(os.path.join(bdir, "engine.json"))
int4 = load(os.path.join(bdir, "int4.json"))
sparse = load(os.path.join(bdir, "sparse.json"))
sched = load(os.path.join(bdir, "sched.json"))
trace = load(os.path.join(bdir, "v2-trace.json"))
vm = {}
models = []     # trained models: in the VM (apu) and on the host (cpu)
try:
    with open(os.path.join(build, "vm", "bench.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                d = json.loads(line)
                if d["bench"] == "model":
                    models.append(d)
                else:
                    vm[d["bench"]] = d
except OSError:
    pass
try:
    with open(os.path.join(bdir, "model-host.jsonl")) as f:
        models += [json.loads(line) for line in f if line.strip()]
except (OSError, ValueError):
    pass

hal = load(os.path.join(bdir, "hal_overhead.json"))
xmodel = load(os.path.join(bdir, "model_xnnpack.json"))
res = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "engine": engine, "int4": int4,
       "sparse": sparse, "scheduling": sched, "model_xnnpack": xmodel,
       "vm": vm, "hal_overhead": hal, "models": models}
ratios = []
md = ["# make bench report", "", "Generated %s on this machine. Every figure is a ratio "
      "against a peer measured in the same run, next to the raw numbers (docs/performance.md "
      "says what each means)." % res["date"], ""]

md += ["## Submission path (in the VM, TCG)", ""]
if vm:
    def spread(d, k):
        if k + "_min" in d:
            return "%.0f / %.0f / %.0f" % (d[k + "_min"], d[k + "_median"], d[k + "_max"])
        return "%.0f" % d[k] if k in d else "-"

    md += ["Median ops/s (min / median / max over the repeats), each figure with its target "
           "(issue 16: depth 32 throughput >= 1.0x NVMe's, depth 1 latency <= 1.2x NVMe's).", "",
           "| measure | apu ops/s | NVMe ops/s | figure | target | met |",
           "|---|---|---|---|---|---|"]
    res["submission_targets"] = []
    for qd, where in (("qd1", "core0"), ("qd32", "core0"), ("qd32", "all6")):
        nv = vm.get("nvme_" + qd, {})
        a = vm.get("apu_%s_%s" % (qd, where), {})
        if not a or not nv:
            continue
        label = "depth %s, %s" % (qd[2:], "one core" if where == "core0" else "six cores")
        if qd == "qd1":
            fig = a["latency_us"] / nv["latency_us"]
            name, target, met = "latency apu / NVMe", "<= 1.2", fig <= 1.2
        else:
            fig = a["ops_per_s"] / nv["ops_per_s"]
            name, target, met = "throughput apu / NVMe", ">= 1.0", fig >= 1.0
        ratios.append(("submit %s %s" % (qd, where), a["ops_per_s"] / nv["ops_per_s"]))
        res["submission_targets"].append({"measure": label, "figure": name, "value": fig,
                                          "target": target, "met": met})
        md.append("| %s | %s | %s | %s **%.2f** | %s | %s |" % (
            label, spread(a, "ops_per_s"), spread(nv, "ops_per_s"), name, fig, target,
            "**met**" if met else "not met"))
    md += ["", "Cost per job (apu) and per I/O (NVMe), the whole guest (every CPU, kworkers and "
           "interrupts included; perf has no PMU under TCG, so guest CPU time stands in for "
           "instructions): ioctls (counted by interposing ioctl()), kernel and user CPU time, "
           "context switches and interrupts.", "",
           "| measure | ioctls | kernel us | user us | context switches | interrupts |",
           "|---|---|---|---|---|---|"]
    for k in ("apu_qd1_core0", "apu_qd1_core0_stats", "apu_qd1_core0_driver02", "nvme_qd1",
              "apu_qd32_core0", "apu_qd32_core0_driver02", "apu_qd32_all6", "nvme_qd32"):
        d = vm.get(k)
        if not d or "kernel_us_per_op" not in d:
            continue
        md.append("| %s | %.2f | %.1f | %.1f | %.2f | %.2f |" % (
            k, d.get("ioctls_per_op", 0), d["kernel_us_per_op"], d["user_us_per_op"],
            d["ctxsw_per_op"], d["irqs_per_op"]))
    md += ["", "`_stats`: the run's statistics asked for (libapu reads the job record); "
           "`_driver02`: libapu's path for drivers before 0.3 (syncobj wait, every record read), "
           "measured interleaved with the others.", ""]
else:
    md += ["(no VM results)", ""]

md += ["## Compute engine vs XNNPACK (one thread)", ""]
if engine:
    layers = engine.get("layers", [])
    gm = engine.get("geomean_ratio")
    if gm is None and layers:
        import math
        gm = math.exp(sum(math.log(l["ratio"]) for l in layers) / len(layers))
    tg = engine.get("target_geomean", 1.2)
    tl = engine.get("target_layer_min", 0.8)
    lmin = min((l["ratio"] for l in layers), default=0)
    md += ["%d MobileNet V2 convolution shapes, engine path `%s` (VNNI %s on this CPU), %s rounds. "
           "Geometric mean of apu/XNNPACK: **%.3f** (min %.3f, max %.3f over the rounds); "
           "target >= %.1f: **%s**. Lowest layer (median over the rounds): %.3f (%s); "
           "target >= %.1f: **%s**." % (
               len(layers), engine.get("path", "?"),
               "available" if engine.get("vnni_available") else "not available",
               engine.get("rounds", 1), gm, engine.get("geomean_min", gm),
               engine.get("geomean_max", gm), tg, "met" if gm >= tg else "NOT met", lmin,
               engine.get("layer_ratio_min_layer", "?"), tl,
               "met" if lmin >= tl else "NOT met"), "",
           "| layer | apu GMAC/s | XNNPACK GMAC/s | ratio (median) | min | max |",
           "|---|---|---|---|---|---|"]
    for l in layers:
        md.append("| %s | %.2f | %.2f | %.3f | %.3f | %.3f |" % (
            l["layer"], l["apu_gmacs"], l["xnnpack_gmacs"], l["ratio"],
            l.get("ratio_min", l["ratio"]), l.get("ratio_max", l["ratio"])))
    md.append("")
    ops = engine.get("ops", [])
    if ops:
        md += ["Other ops (engine throughput; XNNPACK where it has the op):", "",
               "| op | apu | XNNPACK | ratio (median) | min | max |", "|---|---|---|---|---|---|"]
        for o in ops:
            if "xnnpack" in o:
                md.append("| %s | %.2f %s | %.2f %s | %.3f | %.3f | %.3f |" % (
                    o["op"], o["apu"], o["unit"], o["xnnpack"], o["unit"], o["ratio"],
                    o["ratio_min"], o["ratio_max"]))
            else:
                md.append("| %s | %.2f %s | - | - | - | - |" % (o["op"], o["apu"], o["unit"]))
        md.append("")
    ratios.append(("engine geomean", gm))
else:
    md += ["(no engine results)", ""]

md += ["## Int4 weights (w4a8) against int8", ""]
if int4:
    md += ["Modeled cycles of one job (the timing model) and engine time (us, min/median/max "
           "of %d; the engine alone, and the whole job through the command processor), int8 "
           "then int4; speed-ups are int8 / int4 (medians for times)." % int4.get("repeat", 0),
           "", "| layer | big cycles | x | little x | tiny x | engine us int8 | engine us int4 "
           "| x | job x |", "|---|---|---|---|---|---|---|---|---|"]
    for l in int4.get("layers", []):
        cy = l["cycles"]
        e8, e4 = l["engine_us"]["int8"], l["engine_us"]["int4"]
        j8, j4 = l["job_us"]["int8"], l["job_us"]["int4"]
        sp = {k: cy[k][0] / cy[k][1] for k in cy}
        md.append("| %s | %d / %d | %.2f | %.2f | %.2f | %.0f/%.0f/%.0f | %.0f/%.0f/%.0f | %.2f "
                  "| %.2f |" % (l["layer"], cy["big"][0], cy["big"][1], sp["big"], sp["little"],
                                sp["tiny"], e8[0], e8[1], e8[2], e4[0], e4[1], e4[2],
                                e8[1] / e4[1], j8[1] / j4[1]))
        ratios.append(("int4 modeled %s (big)" % l["layer"], sp["big"]))
        ratios.append(("int4 engine %s" % l["layer"], e8[1] / e4[1]))
    md.append("")
else:
    md += ["(no int4 results)", ""]

md += ["## Block-sparse 1x1 layers against the dense path", ""]
if sparse:
    md += ["MobileNet V1/V2 1x1 layers pruned to 70%% and 90%% of their blocks (blocks of %d "
           "output channels); engine time (us, min/median/max of %d interleaved rounds) of the "
           "dense %s path and the sparse one, x = dense / sparse (median of the rounds' "
           "ratios, min, max); modeled = the timing model's big-core cycles dense / sparse. "
           "Outputs checked equal." % (sparse.get("block", 0), sparse.get("repeat", 0),
                                        sparse.get("path", "?")),
           "", "| layer | pruned | dense us | sparse us | x (med, min, max) | modeled x |",
           "|---|---|---|---|---|---|"]
    for l in sparse.get("layers", []):
        d, s_, x = l["dense_us"], l["sparse_us"], l["speedup"]
        md.append("| %s | %.0f%% | %.0f/%.0f/%.0f | %.0f/%.0f/%.0f | %.2f, %.2f, %.2f | %.2f |"
                  % (l["layer"], 100 * l["sparsity"], d[0], d[1], d[2], s_[0], s_[1], s_[2],
                     x[1], x[0], x[2], l["cycles"][0] / l["cycles"][1]))
    md += ["", "| pruned | geomean x (min, median, max) | of the fastest runs | lowest layer "
           "| modeled | target | met |", "|---|---|---|---|---|---|---|"]
    for g in sparse.get("summary", []):
        md.append("| %.0f%% | %.2f, %.2f, %.2f | %.2f | %.2f | %.2f | >= %.1f | %s |"
                  % (100 * g["sparsity"], g["geomean"][0], g["geomean"][1], g["geomean"][2],
                     g["geomean_of_fastest"], g["lowest_layer"], g["modeled"], g["target"],
                     "yes" if g["met"] else "NO"))
        ratios.append(("sparse %.0f%% engine geomean" % (100 * g["sparsity"]), g["geomean"][1]))
    md.append("")
else:
    md += ["(no sparse results)", ""]

md += ["## Scheduling (modeled, the device's timing model)", ""]
if sched:
    md += ["| model | plan | time us | energy uJ | / lower bound |", "|---|---|---|---|---|"]
    for m in sched["models"]:
        md.append("| %s | lower bound | %.1f | - | 1.000 |" % (m["model"], m["lower_bound_us"]))
        if "work_only_bound_us" in m:
            md.append("| %s | work-only bound | %.1f | - | %.3f |" % (
                m["model"], m["work_only_bound_us"], m["work_only_bound_us"] / m["lower_bound_us"]))
        for p in m["plans"]:
            md.append("| %s | %s | %.1f | %.1f | %.3f |" % (m["model"], p["plan"],
                                                           p["makespan_us"], p["energy_uj"],
                                                           p["vs_bound"]))
            if p["plan"] == "performance":
                ratios.append(("%s perf / bound" % m["model"], p["vs_bound"]))
    md += ["", "The lower bound spreads each layer's MACs and bytes over all six cores at "
           "once and adds one op's fixed cost (200 cycles at the fastest clock) per layer; "
           "the work-only bound leaves that cost out. Target: performance within 10% of the "
           "lower bound (ratio <= 1.10), better than one big core and round-robin; low-power "
           "below performance in energy.", ""]

md += ["## HAL overhead (callgrind, deterministic)", ""]
if hal:
    md += ["libapu's userspace instructions per run of a one-job network (submit, wait, "
           "read the job record), the kernel stood in: **%d** (%d instructions over %d "
           "runs)." % (hal["instructions"] // hal["runs"], hal["instructions"], hal["runs"]), ""]
else:
    md += ["(valgrind not found)", ""]

md += ["## Trained models (docs/models.md)", ""]
if models:
    md += ["Load + compile (file to a compiled network), one inference (set the input, run, "
           "wait), and the memory libapu holds for a loaded model against the file: min / "
           "median / max over the repeats. `apu`: the emulated NPU in the VM (TCG; device "
           "buffers not counted in the heap); `cpu`: the host's CPU backend (buffers in the "
           "heap).", "",
           "| model | backend | load + compile ms | inference ms | heap MiB | file MiB | heap / file |",
           "|---|---|---|---|---|---|---|"]
    for d in models:
        md.append("| %s | %s | %.1f / %.1f / %.1f | %.1f / %.1f / %.1f | %.1f | %.1f | %.2f |" % (
            d["model"], d["backend"], d["load_compile_ms"][0], d["load_compile_ms"][1],
            d["load_compile_ms"][2], d["inference_ms"][0], d["inference_ms"][1],
            d["inference_ms"][2], d["heap_bytes"] / 2**20, d["file_bytes"] / 2**20,
            d["heap_per_file_byte"]))
    md.append("")
else:
    md += ["(no model figures)", ""]

md += ["## Whole model: MobileNet V2 int8 on the NPU (VM) vs XNNPACK (host)", ""]
mi = vm.get("model_inference")
if xmodel and mi:
    def mmm(v):
        return "%.1f / %.1f / %.1f" % (v[0], v[1], v[2])
    # Target (issue 16): APU <= 1.5x XNNPACK with as many threads as host cores.
    # The verdict uses each side's minimum (its least disturbed inference: on a
    # loaded machine XNNPACK's threads wait for each other at every node, and
    # its median says more about the load than the model); medians shown too.
    fig = mi["inference_ms"][0] / xmodel["inference_ms"][0]
    fig_med = mi["inference_ms"][1] / xmodel["inference_ms"][1]
    met = fig <= 1.5
    res["model_vs_xnnpack"] = {"figure": fig, "figure_medians": fig_med, "target": "<= 1.5",
                               "met": met}
    ratios.append(("MobileNet V2 apu / XNNPACK", fig))
    md += ["One inference of %s (input set once; run and wait): apu in the VM under TCG "
           "(`model_bench --steady`, %d inferences of the loaded model, %d jobs each), XNNPACK's "
           "subgraph runtime on the host (`model_xnnpack_bench`, %d inferences; top-1 %d as "
           "libapu's CPU reference, logits within %d units: max %d). ms, min / median / max:"
           % (mi["model"], mi["inferences"], mi["jobs"], xmodel["inferences"], xmodel["top1"],
              xmodel["tolerance"], xmodel["logits_max_abs_diff"]), "",
           "| measure | ms | ratio to apu (min, median) | target | met |", "|---|---|---|---|---|",
           "| apu, emulated NPU in the VM | %s | | | |" % mmm(mi["inference_ms"]),
           "| XNNPACK, %d threads (host cores %d) | %s | **%.1f**, %.1f | <= 1.5 | %s |" % (
               xmodel["threads"], xmodel["host_cores"], mmm(xmodel["inference_ms"]), fig,
               fig_med, "**met**" if met else "not met"),
           "| XNNPACK, 1 thread | %s | %.1f, %.1f | | |" % (
               mmm(xmodel["inference_ms_1thread"]),
               mi["inference_ms"][0] / xmodel["inference_ms_1thread"][0],
               mi["inference_ms"][1] / xmodel["inference_ms_1thread"][1]), "",
           "Where the apu's time goes, per inference (ms, min / median / max):", "",
           "| part | ms |", "|---|---|",
           "| libapu's CPU ops in the guest (MEAN, SOFTMAX; TCG) | %s |" % mmm(mi["cpu_ops_ms"]),
           "| device busy, the six cores summed (driver's fdinfo: post to completion) | %s |"
           % mmm(mi["device_busy_sum_ms"]),
           "| device busy, the busiest core | %s |" % mmm(mi["device_busy_max_core_ms"]),
           "| guest CPU time, all vCPUs, kernel / user (average) | %.1f / %.1f |" % (
               mi.get("kernel_us_per_op", 0) / 1e3, mi.get("user_us_per_op", 0) / 1e3),
           "| guest context switches / interrupts (average) | %.0f / %.0f |" % (
               mi.get("ctxsw_per_op", 0), mi.get("irqs_per_op", 0)),
           "| engine alone on the host, all %d jobs one after another, 1 thread "
           "(`model_xnnpack_bench`) | %s |" % (xmodel["engine_jobs"],
                                             mmm(xmodel["engine_serial_ms"])), "",
           "By kind of layer, one thread each, ms (medians; XNNPACK: each op alone):", "",
           "| layers | apu engine | XNNPACK | engine / XNNPACK |", "|---|---|---|---|"]
    for k in xmodel["kinds"]:
        md.append("| %s | %.2f | %.2f | %s |" % (
            k["kind"], k["engine_ms"], k["xnnpack_ms"],
            "%.1f" % (k["engine_ms"] / k["xnnpack_ms"]) if k["xnnpack_ms"] > 0 else "-"))
    md.append("")
else:
    md += ["(no whole-model figures: model_xnnpack.json or the VM's model_inference missing)", ""]

md += ["## Memory", ""]
km = vm.get("kernel_memory")
qm = vm.get("qemu_memory")
if km:
    md.append("- Kernel memory per open file: %.1f KiB; per buffer: %.2f KiB of kernel "
              "structures (+ %.2f KiB of data pages)." % (km["per_file_kib"],
                                                       km["per_buffer_kib"],
                                                       km["per_buffer_data_kib"]))
if qm:
    md.append("- QEMU resident memory: %.1f MiB with the guest idle, %.1f MiB at peak "
              "(1 GiB guest)." % (qm["idle_rss_kib"] / 1024.0, qm["peak_rss_kib"] / 1024.0))
md.append("")

res["ratios"] = dict(ratios)
with open(os.path.join(bdir, "results.json"), "w") as f:
    json.dump(res, f, indent=1)

gnuplot = shutil.which("gnuplot")
pngs = []
if gnuplot and trace:
    rows = [e for e in trace["traceEvents"] if e.get("ph") == "X"]
    with open(os.path.join(bdir, "gantt.dat"), "w") as f:
        for e in rows:
            f.write("%g %g %d\n" % (e["ts"], e["ts"] + e["dur"], e["tid"]))
    script = """set terminal pngcairo size 1200,420 noenhanced
set output '%s/gantt.png'
set title 'MobileNet V2, performance policy: one run, per core (modeled)'
set xlabel 'time (us)'
set ytics ('big0' 0, 'big1' 1, 'little0' 2, 'little1' 3, 'little2' 4, 'tiny0' 5)
set yrange [-0.6:5.6]
set grid x
plot '%s/gantt.dat' using (($1+$2)/2):3:1:2:($3-0.35):($3+0.35) with boxxyerror fs solid 0.6 notitle
""" % (bdir, bdir)
    subprocess.run([gnuplot], input=script.encode(), check=False)
    pngs.append("gantt.png")
if gnuplot and ratios:
    with open(os.path.join(bdir, "ratios.dat"), "w") as f:
        for name, r in ratios:
            f.write('"%s" %g\n' % (name, r))
    script = """set terminal pngcairo size 1000,420 noenhanced
set output '%s/ratios.png'
set title 'make bench: ratios against the peers'
set style fill solid 0.6
set boxwidth 0.6
set xtics rotate by -30
set yrange [0:*]
set grid y
plot '%s/ratios.dat' using 0:2:xtic(1) with boxes notitle, 1 with lines dt 2 notitle
""" % (bdir, bdir)
    subprocess.run([gnuplot], input=script.encode(), check=False)
    pngs.append("ratios.png")
if pngs:
    md += ["## Pictures", ""] + ["![%s](%s)" % (p, p) for p in pngs] + [""]
else:
    md += ["(gnuplot not found: no pictures)", ""]
with open(os.path.join(bdir, "report.md"), "w") as f:
    f.write("\n".join(md))
print("\n".join(md))
print("results: %s/results.json, %s/report.md" % (bdir, bdir))
