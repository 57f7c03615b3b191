#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Check the models of make_models.py with Arm NN (an independent reader).

    check_armnn.py OUTDIR [MODEL.tflite ...]

For each .tflite file in OUTDIR (or each one named): parses it with pyarmnn's
ITfLiteParser, optimizes it for [CpuRef] (Arm NN's plain reference kernels),
runs it on a random input (fixed seed) and checks that no output is
constant. Where the file is the one make_models.py (beside this script)
writes, it is also run on the generator's calibration input and each output
compared with the generator's float reference of the graph (quantized at
every tensor as the model says), in output quantization steps (LSB).
Prints one line per model:

    NAME: ok (OUTPUT dtype shape, values LO..HI, N distinct; vs reference: max N LSB)
    NAME: armnn-differs: N LSB from the reference: KNOWN REASON (...)
    NAME: unsupported-by-armnn: WHERE: REASON
    NAME: FAIL: REASON

"unsupported-by-armnn" is Arm NN (Debian bookworm's 20.08) refusing the
model while parsing, optimizing or loading it: a limit of that version, not
a fault of the model. "armnn-differs" is a difference from the reference
that a known fault of Arm NN 20.08 explains (KNOWN_DIFFERENCES). FAIL is a
model that ran but whose output is constant, or that differs from the
reference for no known reason (a bug in the generator or a new one in Arm
NN). Exit status: 0, 1 if any model FAILed, 2 on bad usage.

Debian's libarmnn has .../armnn20 compiled in as its dynamic backend path
while libarmnn-cpuref-backend22 installs CpuRef into .../armnn22: the
runtime is created with m_DynamicBackendsPath set to that folder (or
$ARMNN_BACKEND_PATH).

Needs python3-pyarmnn, libarmnn-cpuref-backend22, libarmnntfliteparser22 and
python3-numpy.
"""
import glob
import logging
import os
import sys

# One way to find Arm NN's CpuRef backend: the oracle's (tests/oracle/armnn_run.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
from armnn_run import backend_path  # noqa: E402


def short(e):
    """The first line of an Arm NN exception, without its source location."""
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return msg


class Unsupported(Exception):
    pass


# Output quantization steps that Arm NN may differ from the float reference
# by (rounding of averages and requantization).
TOLERANCE_LSB = 2

# Differences from the reference that Arm NN 20.08 is known to make.
KNOWN_DIFFERENCES = {
    "pad_conv": "Arm NN 20.08 pads a quantized PAD with the value 0, not the zero "
                "point (later Arm NN sets m_PadValue to the quantization offset); "
                "the PAD before the conv is folded into the conv and comes out right, "
                "the PAD before the max pool does not",
}


def reference_models(np):
    """{name: Model} of make_models.py beside this script, or {} if absent."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.dont_write_bytecode = True	# no __pycache__ in the source tree
    try:
        import make_models
    except ImportError:
        return None, {}
    return make_models, {m.name: m for m in (f() for f in make_models.MODELS)}


def reference_inputs(mm, np, m):
    data = []
    for i in m.inputs:
        t = m.t(i)
        if t.type == mm.FLOAT32:
            data.append(t.value.astype(np.float32))
        else:
            data.append((np.round(t.value / t.scale[0]) + t.zp[0]).astype(mm.NP_TYPE[t.type]))
    return data


def reference_error(mm, np, m, results):
    """The largest difference of @results from the reference, in output
    quantization steps (for float outputs: in steps of 1/127 of the largest
    reference value)."""
    worst = 0.0
    for o, r in zip(m.outputs, results):
        t = m.t(o)
        if t.type == mm.FLOAT32:
            step = max(float(np.abs(t.value).max()) / 127, 1e-9)
            err = float(np.abs(r - t.value).max()) / step
        else:
            q = np.round(t.value / t.scale[0]) + t.zp[0]
            err = float(np.abs(r.astype(np.int64) - q).max())
        worst = max(worst, err)
    return worst


def check(ann, np, runtime, path, rng, ref_data=None):
    types = {ann.DataType_QAsymmU8: np.uint8, ann.DataType_QAsymmS8: np.int8,
             ann.DataType_QSymmS8: np.int8, ann.DataType_QSymmS16: np.int16,
             ann.DataType_Float32: np.float32, ann.DataType_Signed32: np.int32}
    try:
        parser = ann.ITfLiteParser()
        network = parser.CreateNetworkFromBinaryFile(path)
        in_names = parser.GetSubgraphInputTensorNames(0)
        out_names = parser.GetSubgraphOutputTensorNames(0)
        in_binds = [parser.GetNetworkInputBindingInfo(0, n) for n in in_names]
        out_binds = [parser.GetNetworkOutputBindingInfo(0, n) for n in out_names]
    except Exception as e:
        raise Unsupported("parse: " + short(e))
    try:
        opt_net, messages = ann.Optimize(network, [ann.BackendId("CpuRef")],
                                         runtime.GetDeviceSpec(), ann.OptimizerOptions())
    except Exception as e:
        raise Unsupported("optimize: " + short(e))
    try:
        net_id, _ = runtime.LoadNetwork(opt_net)
    except Exception as e:
        raise Unsupported("load: " + short(e))

    data = []
    for _, info in in_binds:
        dt = types[info.GetDataType()]
        shape = [info.GetShape()[i] for i in range(info.GetShape().GetNumDimensions())]
        if dt == np.float32:
            data.append(rng.uniform(-1.0, 1.0, size=shape).astype(np.float32))
        else:
            lim = np.iinfo(dt)
            data.append(rng.integers(lim.min, int(lim.max) + 1, size=shape).astype(dt))
    ref_results = None
    try:
        def run(d):
            inputs = ann.make_input_tensors(in_binds, d)
            outputs = ann.make_output_tensors(out_binds)
            runtime.EnqueueWorkload(net_id, inputs, outputs)
            return ann.workload_tensors_to_ndarray(outputs)
        results = run(data)
        if ref_data is not None:
            ref_results = run(ref_data)
    except Exception as e:
        raise Unsupported("run: " + short(e))
    finally:
        runtime.UnloadNetwork(net_id)

    notes = []
    bad = []
    for name, r in zip(out_names, results):
        distinct = len(np.unique(r))
        notes.append("%s %s %s, values %s..%s, %d distinct" %
                     (name, r.dtype, list(r.shape), r.min(), r.max(), distinct))
        if distinct < 2:
            bad.append(name)
    return bad, notes, ref_results


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: %s OUTDIR [MODEL.tflite ...]\n" % argv[0])
        return 2
    # pyarmnn logs a warning on import for each parser Debian leaves out.
    logging.getLogger("pyarmnn").setLevel(logging.ERROR)
    import numpy as np
    import pyarmnn as ann

    if len(argv) > 2:
        paths = [p if os.path.sep in p else os.path.join(argv[1], p) for p in argv[2:]]
    else:
        paths = sorted(glob.glob(os.path.join(argv[1], "*.tflite")))
    if not paths:
        sys.stderr.write("check_armnn: no .tflite files in %s\n" % argv[1])
        return 2

    options = ann.CreationOptions()
    bpath = backend_path()
    if bpath:
        options.m_DynamicBackendsPath = bpath
    runtime = ann.IRuntime(options)

    mm, refs = reference_models(np)
    failed = 0
    for i, path in enumerate(paths):
        name = os.path.basename(path)
        stem = name[:-len(".tflite")] if name.endswith(".tflite") else name
        rng = np.random.default_rng(1000 + i)
        ref = refs.get(stem)
        if ref is not None:
            with open(path, "rb") as f:
                if f.read() != mm.serialize(ref):
                    ref = None	# not the generator's file: no reference
        ref_data = reference_inputs(mm, np, ref) if ref is not None else None
        try:
            bad, notes, ref_results = check(ann, np, runtime, path, rng, ref_data)
        except Unsupported as e:
            print("%s: unsupported-by-armnn: %s" % (name, e))
            continue
        err = None
        if ref_results is not None:
            err = reference_error(mm, np, ref, ref_results)
            notes[-1] += "; vs reference: max %g LSB" % err
        if bad:
            failed += 1
            print("%s: FAIL: constant output %s (%s)" % (name, ", ".join(bad), "; ".join(notes)))
        elif err is not None and err > TOLERANCE_LSB:
            if stem in KNOWN_DIFFERENCES:
                print("%s: armnn-differs: %g LSB from the reference: %s (%s)"
                      % (name, err, KNOWN_DIFFERENCES[stem], "; ".join(notes)))
            else:
                failed += 1
                print("%s: FAIL: %g LSB from the reference (%s)" % (name, err, "; ".join(notes)))
        else:
            print("%s: ok (%s)" % (name, "; ".join(notes)))
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
