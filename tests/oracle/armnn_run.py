#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Run a TFLite model with Arm NN's reference backend (an independent oracle).

    armnn_run.py MODEL.tflite INPUT.bin OUTPUT.bin

Runs subgraph 0 of MODEL.tflite with backends [CpuRef] (Arm NN's plain C++
reference kernels, Debian bookworm's Arm NN 20.08) on the raw bytes of
INPUT.bin as the model's one input tensor (uint8 or int8, as the model says;
the size must match exactly) and writes the raw bytes of the model's first
output tensor to OUTPUT.bin. Prints the input and output tensors' type, shape
and quantization to stderr. Exit status: 0, 1 on any error, 2 on bad usage.

Debian's libarmnn has /usr/lib/x86_64-linux-gnu/armnn20 compiled in as its
dynamic backend path while libarmnn-cpuref-backend22 installs the CpuRef
backend in .../armnn22: the runtime is created with m_DynamicBackendsPath set
to the armnn22 folder (or $ARMNN_BACKEND_PATH).

Needs python3-pyarmnn, libarmnn-cpuref-backend22, libarmnntfliteparser22 and
python3-numpy (scripts/setup.sh installs them).
"""
import glob
import os
import sys


def backend_path():
    env = os.environ.get("ARMNN_BACKEND_PATH")
    if env:
        return env
    for pattern in ("/usr/lib/*-linux-gnu/armnn22", "/usr/lib/*-linux-gnu/armnn2*"):
        found = sorted(d for d in glob.glob(pattern)
                       if glob.glob(os.path.join(d, "*CpuRef*backend*.so")))
        if found:
            return found[-1]
    return ""


def describe(ann, info):
    q = ""
    if info.IsQuantized():
        q = " scale %g zero_point %d" % (info.GetQuantizationScale(),
                                         info.GetQuantizationOffset())
    shape = info.GetShape()
    dims = [shape[i] for i in range(shape.GetNumDimensions())]
    names = {ann.DataType_QAsymmU8: "uint8", ann.DataType_QAsymmS8: "int8",
             ann.DataType_Float32: "float32", ann.DataType_Signed32: "int32"}
    return "%s %s (%d bytes)%s" % (names.get(info.GetDataType(), str(info.GetDataType())),
                                   dims, info.GetNumBytes(), q)


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: %s MODEL.tflite INPUT.bin OUTPUT.bin\n" % argv[0])
        return 2
    model, in_path, out_path = argv[1:]

    # pyarmnn logs a warning on import for each parser Debian leaves out.
    import logging
    logging.getLogger("pyarmnn").setLevel(logging.ERROR)
    import numpy as np
    import pyarmnn as ann

    types = {ann.DataType_QAsymmU8: np.uint8, ann.DataType_QAsymmS8: np.int8}

    parser = ann.ITfLiteParser()
    network = parser.CreateNetworkFromBinaryFile(model)
    graph = 0
    in_names = parser.GetSubgraphInputTensorNames(graph)
    out_names = parser.GetSubgraphOutputTensorNames(graph)
    if len(in_names) != 1:
        sys.stderr.write("armnn_run: %s: %d inputs, expected 1\n" % (model, len(in_names)))
        return 1
    in_bind = parser.GetNetworkInputBindingInfo(graph, in_names[0])
    out_bind = parser.GetNetworkOutputBindingInfo(graph, out_names[0])
    in_info = in_bind[1]
    if in_info.GetDataType() not in types:
        sys.stderr.write("armnn_run: input type %d is neither uint8 nor int8\n"
                         % in_info.GetDataType())
        return 1
    data = np.fromfile(in_path, dtype=types[in_info.GetDataType()])
    if data.nbytes != in_info.GetNumBytes():
        sys.stderr.write("armnn_run: %s has %d bytes, the input tensor %d\n"
                         % (in_path, data.nbytes, in_info.GetNumBytes()))
        return 1
    sys.stderr.write("armnn_run: input %s: %s\n" % (in_names[0], describe(ann, in_info)))
    sys.stderr.write("armnn_run: output %s: %s\n" % (out_names[0], describe(ann, out_bind[1])))

    options = ann.CreationOptions()
    path = backend_path()
    if path:
        options.m_DynamicBackendsPath = path
    runtime = ann.IRuntime(options)
    backends = [ann.BackendId("CpuRef")]
    opt_net, messages = ann.Optimize(network, backends, runtime.GetDeviceSpec(),
                                     ann.OptimizerOptions())
    for m in messages or []:
        sys.stderr.write("armnn_run: optimizer: %s\n" % m)
    net_id, _ = runtime.LoadNetwork(opt_net)
    inputs = ann.make_input_tensors([in_bind], [data])
    outputs = ann.make_output_tensors([out_bind])
    runtime.EnqueueWorkload(net_id, inputs, outputs)
    result = ann.workload_tensors_to_ndarray(outputs)[0]
    with open(out_path, "wb") as f:
        f.write(result.tobytes())
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as e:  # Arm NN raises its own RuntimeError subclasses
        sys.stderr.write("armnn_run: %s: %s\n" % (type(e).__name__, e))
        sys.exit(1)
