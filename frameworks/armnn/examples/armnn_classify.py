#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run a TFLite model through Arm NN (pyarmnn) with the APU first in line.

    armnn_classify.py MODEL.tflite INPUT.bin [--backends ApuNpu,CpuRef]
        [--backend-path DIR] [--option NAME=VALUE] [--labels FILE] [--top N]
        [--save-output FILE] [--dot FILE]

INPUT.bin holds input 0's bytes (apu-run --save-input writes them from a
photo). pyarmnn 20.08 cannot pass backend options: --option sets the
environment variable the ApuNpu backend reads instead (Policy ->
APU_ARMNN_POLICY, ...). Prints where the layers ran and the best classes.
The Python example of docs/frameworks.md; the tests run it.
"""
import argparse
import collections
import logging
import os
import re
import sys
import tempfile

OPTION_ENV = {"Device": "APU_ARMNN_DEVICE", "Policy": "APU_ARMNN_POLICY",
              "CoreMask": "APU_ARMNN_CORE_MASK", "DeadlineUs": "APU_ARMNN_DEADLINE_US",
              "Priority": "APU_ARMNN_PRIORITY"}


def placement(dot_text):
    """(name, type, backend) of each layer of an optimized network's dot."""
    node = re.compile(r"LayerName : ([^\\]*)\\lLayerType : ([^\\]*)\\lBackendID : ([^\\]*)\\l")
    return node.findall(dot_text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("input")
    ap.add_argument("--backends", default="ApuNpu,CpuRef")
    ap.add_argument("--backend-path", default=os.environ.get("ARMNN_BACKEND_PATH", ""))
    ap.add_argument("--option", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--labels")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--save-output")
    ap.add_argument("--dot")
    args = ap.parse_args()
    for kv in args.option:
        name, _, value = kv.partition("=")
        if name not in OPTION_ENV or not value:
            ap.error("--option %s: one of %s, NAME=VALUE" % (kv, ", ".join(OPTION_ENV)))
        os.environ[OPTION_ENV[name]] = value

    logging.getLogger("pyarmnn").setLevel(logging.ERROR)  # parsers Debian leaves out
    import numpy as np
    import pyarmnn as ann

    # 1. Arm NN's own TFLite parser reads the model.
    parser = ann.ITfLiteParser()
    network = parser.CreateNetworkFromBinaryFile(args.model)
    in_bind = parser.GetNetworkInputBindingInfo(0, parser.GetSubgraphInputTensorNames(0)[0])
    out_bind = parser.GetNetworkOutputBindingInfo(0, parser.GetSubgraphOutputTensorNames(0)[0])

    # 2. A runtime that loads the dynamic backends (ApuNpu among them).
    options = ann.CreationOptions()
    options.m_DynamicBackendsPath = args.backend_path
    runtime = ann.IRuntime(options)

    # 3. Optimize: ApuNpu claims the layers it runs, the rest falls back.
    backends = [ann.BackendId(b) for b in args.backends.split(",")]
    opt_net, _ = ann.Optimize(network, backends, runtime.GetDeviceSpec(), ann.OptimizerOptions())
    with tempfile.TemporaryDirectory() as tmp:
        dot_path = args.dot or os.path.join(tmp, "net.dot")
        opt_net.SerializeToDot(dot_path)
        with open(dot_path) as f:
            placed = placement(f.read())
    count = collections.Counter("%s %s" % (b, t) for _, t, b in placed
                                if t not in ("Input", "Output", "MemCopy"))
    print("layers: " + " ".join("[%s x%d]" % kv for kv in sorted(count.items())))

    # 4. Load and run.
    net_id, _ = runtime.LoadNetwork(opt_net)
    info = in_bind[1]
    dtype = np.int8 if info.GetDataType() == ann.DataType_QAsymmS8 else np.uint8
    data = np.fromfile(args.input, dtype=dtype)
    if data.nbytes != info.GetNumBytes():
        sys.exit("armnn_classify.py: %s has %d bytes, the input takes %d"
                 % (args.input, data.nbytes, info.GetNumBytes()))
    outputs = ann.make_output_tensors([out_bind])
    runtime.EnqueueWorkload(net_id, ann.make_input_tensors([in_bind], [data]), outputs)
    out = ann.workload_tensors_to_ndarray(outputs)[0].reshape(-1)
    if args.save_output:
        out.tofile(args.save_output)

    # 5. The best classes: dequantized scores.
    oi = out_bind[1]
    scores = (out.astype(np.float32) - oi.GetQuantizationOffset()) * oi.GetQuantizationScale()
    labels = open(args.labels).read().splitlines() if args.labels else []
    for k, c in enumerate(sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:args.top]):
        print("top %d: class %d score %g%s" % (k + 1, c, scores[c],
                                              " " + labels[c] if c < len(labels) else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
