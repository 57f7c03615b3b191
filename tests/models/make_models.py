#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write small, real, quantized TFLite models that exercise libapu's importer.

    make_models.py OUTDIR

Writes one .tflite file per model named in MODELS (see tests/models/README.md)
into OUTDIR (created if missing). The FlatBuffers are built with the
`flatbuffers` package's Builder directly, table by table and field slot by
field slot as TFLite's public schema.fbs numbers them: no generated schema
code and no flatc. Weights come from numpy generators with fixed seeds, and
each tensor's quantization is calibrated on a fixed random input run through
a float model of the graph, so outputs use their range instead of
saturating. The output is deterministic: every run writes the same bytes.

Needs only Debian bookworm's python3-flatbuffers and python3-numpy.
"""
import os
import sys

import flatbuffers
import numpy as np

# --- schema.fbs constants ---------------------------------------------------

# TensorType
FLOAT32, INT32, UINT8, INT64, INT16, INT8, INT4 = 0, 2, 3, 4, 7, 9, 17
NP_TYPE = {FLOAT32: np.float32, INT32: np.int32, UINT8: np.uint8, INT64: np.int64,
           INT16: np.int16, INT8: np.int8, INT4: np.int8}
QRANGE = {UINT8: (0, 255), INT8: (-128, 127), INT16: (-32768, 32767), INT4: (-8, 7)}


def pack_int4(q):
    """TFLite's INT4 buffers: two values a byte, element 2i in the low nibble."""
    v = (np.asarray(q, dtype=np.int64).reshape(-1) & 0xF).astype(np.uint8)
    if v.size % 2:
        v = np.append(v, np.uint8(0))
    return (v[0::2] | (v[1::2] << 4)).astype(np.uint8).tobytes()

# BuiltinOperator
ADD, AVERAGE_POOL_2D, CONCATENATION, CONV_2D, DEPTHWISE_CONV_2D = 0, 1, 2, 3, 4
DEQUANTIZE, FULLY_CONNECTED, LOGISTIC, MAX_POOL_2D, MUL = 6, 9, 14, 17, 18
RELU, RELU_N1_TO_1, RELU6, RESHAPE, SOFTMAX, SPACE_TO_DEPTH = 19, 20, 21, 22, 25, 26
TANH, PAD, MEAN, SQUEEZE, QUANTIZE, HARD_SWISH = 28, 34, 40, 43, 114, 117
SUB = 41
PLACEHOLDER_FOR_GREATER_OP_CODES = 127

# BuiltinOptions union: the type codes of the option tables used here
OPT_NONE = 0
OPT_CONV2D, OPT_DEPTHWISE, OPT_POOL2D, OPT_FC, OPT_SOFTMAX = 1, 2, 5, 8, 9
OPT_CONCAT, OPT_ADD, OPT_RESHAPE, OPT_SPACE_TO_DEPTH, OPT_MUL = 10, 11, 17, 19, 21
OPT_SUB = 28
OPT_PAD, OPT_REDUCER, OPT_SQUEEZE, OPT_DEQUANTIZE, OPT_QUANTIZE = 22, 27, 30, 38, 89
OPT_HARD_SWISH = 91

# ActivationFunctionType and Padding
ACT = {None: 0, "relu": 1, "relu_n1_to_1": 2, "relu6": 3}
SAME, VALID = 0, 1

SCHEMA_VERSION = 3


def tidy(x):
    """A float kept to 5 significant digits, so that the last bits of a
    calibration sum (which may depend on the CPU's SIMD) cannot change the
    bytes written."""
    return float("%.5g" % x)


def qparams(lo, hi, qtype):
    """Asymmetric (scale, zero_point) for the float range [lo, hi]."""
    qmin, qmax = QRANGE[qtype]
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-6:
        hi = lo + 1e-6
    scale = tidy((hi - lo) / (qmax - qmin))
    zp = int(np.clip(round(qmin - lo / scale), qmin, qmax))
    return scale, zp


class Tensor:
    def __init__(self, name, shape, qtype, data=None, scale=None, zp=None, qdim=0):
        self.name = name
        self.shape = [int(d) for d in shape]
        self.type = qtype
        self.data = data		# bytes of a constant, or None
        self.scale = scale		# list of floats, or None (not quantized)
        self.zp = zp			# list of ints
        self.qdim = qdim
        self.value = None		# float calibration value (numpy)


class Model:
    """A one-subgraph TFLite model under construction, with a float run of
    the graph on a calibration input alongside."""

    def __init__(self, name, seed):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.tensors = []
        self.ops = []		# (code, version, inputs, outputs, opt_type, opt_fields)
        self.inputs = []
        self.outputs = []

    # -- tensors --

    def add_tensor(self, t):
        self.tensors.append(t)
        return len(self.tensors) - 1

    def t(self, i):
        return self.tensors[i]

    def deq(self, i):
        """The float calibration value of tensor i."""
        return self.tensors[i].value

    def input(self, name, shape, qtype, scale=None, zp=None):
        """A graph input; its calibration value spans its whole range."""
        if qtype == FLOAT32:
            t = Tensor(name, shape, qtype)
            t.value = self.rng.uniform(-1.0, 1.0, size=shape)
        else:
            qmin, qmax = QRANGE[qtype]
            t = Tensor(name, shape, qtype, scale=[scale], zp=[zp])
            q = self.rng.integers(qmin, qmax + 1, size=shape)
            t.value = (q - zp) * scale
        i = self.add_tensor(t)
        self.inputs.append(i)
        return i

    def output(self, i):
        self.outputs.append(i)

    def const(self, name, array, qtype, scale=None, zp=None, qdim=0):
        arr = np.ascontiguousarray(np.asarray(array, dtype=NP_TYPE[qtype]))
        data = (pack_int4(arr) if qtype == INT4 else
                arr.astype(arr.dtype.newbyteorder("<")).tobytes())
        t = Tensor(name, arr.shape, qtype, data=data, scale=scale, zp=zp, qdim=qdim)
        return self.add_tensor(t)

    def activation(self, name, value, qtype, act=None, scale=None, zp=None, lo=None, hi=None):
        """An intermediate tensor holding @value (float) after @act; its
        quantization is calibrated on @value unless given."""
        value = apply_act(value, act)
        if scale is None:
            vlo = value.min() if lo is None else lo
            vhi = value.max() if hi is None else hi
            if act == "relu6":
                vlo, vhi = 0.0, min(vhi, 6.0)
            elif act == "relu":
                vlo = 0.0
            scale, zp = qparams(vlo, vhi, qtype)
        t = Tensor(name, value.shape, qtype, scale=[scale], zp=[zp])
        qmin, qmax = QRANGE[qtype]
        t.value = (np.clip(np.round(value / scale) + zp, qmin, qmax) - zp) * scale
        return self.add_tensor(t)

    def float_tensor(self, name, value):
        t = Tensor(name, value.shape, FLOAT32)
        t.value = value
        return self.add_tensor(t)

    # -- weights --

    def weights_per_channel(self, name, shape, qdim, qtype=INT8, gain=1.0, store=None):
        """Symmetric per-channel weights (zero points 0) along @qdim, in the
        range of @qtype, stored as @store (default @qtype)."""
        fan_in = int(np.prod(shape)) // shape[qdim]
        if qdim == 3 and shape[0] == 1:		# depthwise [1, kh, kw, C]: fan-in kh*kw
            fan_in = shape[1] * shape[2]
        w = self.rng.normal(0.0, gain / np.sqrt(fan_in), size=shape)
        # Channels of different magnitudes, so that per-channel scales matter.
        bshape = [1] * len(shape)
        bshape[qdim] = shape[qdim]
        w = w * self.rng.uniform(0.3, 2.0, size=bshape)
        qmax = QRANGE[qtype][1]
        axes = tuple(a for a in range(len(shape)) if a != qdim)
        scales = [tidy(s) for s in np.abs(w).max(axis=axes) / qmax]
        s = np.array(scales).reshape(bshape)
        q = np.clip(np.round(w / s), -qmax, qmax)
        i = self.const(name, q, store or qtype, scale=scales, zp=[0] * len(scales), qdim=qdim)
        self.tensors[i].value = q * s
        return i

    def weights_per_tensor(self, name, shape, lo, hi, qtype=UINT8):
        """Asymmetric per-tensor weights, uniform in [lo, hi] (a nonzero
        zero point unless lo == -hi)."""
        w = self.rng.uniform(lo, hi, size=shape)
        scale, zp = qparams(w.min(), w.max(), qtype)
        qmin, qmax = QRANGE[qtype]
        q = np.clip(np.round(w / scale) + zp, qmin, qmax)
        i = self.const(name, q, qtype, scale=[scale], zp=[zp])
        self.tensors[i].value = (q - zp) * scale
        return i

    def bias(self, name, n, x, w, std=0.1, qtype=INT32):
        """Bias of @n channels, scale input scale * weight scale (per channel
        when the weights are)."""
        b = self.rng.normal(0.0, std, size=n)
        sw = self.t(w).scale
        sx = self.t(x).scale[0]
        scales = [tidy(sx * s) for s in (sw if len(sw) > 1 else sw * n)]
        s = np.array(scales)
        q = np.round(b / s)
        if len(sw) > 1:
            i = self.const(name, q, qtype, scale=scales, zp=[0] * n, qdim=0)
        else:
            i = self.const(name, q, qtype, scale=[scales[0]], zp=[0])
        self.tensors[i].value = q * s
        return i

    # -- ops --

    def op(self, code, inputs, outputs, opt_type=OPT_NONE, opt_fields=None, version=1):
        self.ops.append((code, version, list(inputs), list(outputs), opt_type, opt_fields))

    def conv(self, x, cout, k, stride=1, padding=SAME, dil=1, act=None, pc=True,
             wq=None, out_type=None, name="conv", gain=1.0, bias_type=INT32, wtype=INT8,
             wstore=None):
        xt = self.t(x)
        qtype = xt.type if out_type is None else out_type
        cin = xt.shape[3]
        if pc:
            w = self.weights_per_channel(name + "/weights", [cout, k, k, cin], 0,
                                         gain=gain, qtype=wtype, store=wstore)
        else:
            lo, hi = wq
            w = self.weights_per_tensor(name + "/weights", [cout, k, k, cin], lo, hi,
                                        qtype=xt.type)
        b = self.bias(name + "/bias", cout, x, w, qtype=bias_type)
        y = conv_float(self.deq(x), self.deq(w), self.deq(b), stride, padding, dil)
        out = self.activation(name, y, qtype, act)
        self.op(CONV_2D, [x, w, b], [out], OPT_CONV2D, [
            (0, "u8", padding, 0), (1, "i32", stride, 0), (2, "i32", stride, 0),
            (3, "u8", ACT[act], 0), (4, "i32", dil, 1), (5, "i32", dil, 1)],
            version=3 if qtype == INT8 else 1)
        return out

    def depthwise(self, x, mult, k, stride=1, padding=SAME, act=None, pc=True, wq=None,
                  name="dw", wtype=INT8, wstore=None):
        xt = self.t(x)
        cout = xt.shape[3] * mult
        if pc:
            w = self.weights_per_channel(name + "/weights", [1, k, k, cout], 3, qtype=wtype,
                                         store=wstore)
        else:
            w = self.weights_per_tensor(name + "/weights", [1, k, k, cout], *wq,
                                        qtype=xt.type)
        b = self.bias(name + "/bias", cout, x, w)
        y = depthwise_float(self.deq(x), self.deq(w), self.deq(b), mult, stride, padding)
        out = self.activation(name, y, xt.type, act)
        self.op(DEPTHWISE_CONV_2D, [x, w, b], [out], OPT_DEPTHWISE, [
            (0, "u8", padding, 0), (1, "i32", stride, 0), (2, "i32", stride, 0),
            (3, "i32", mult, 0), (4, "u8", ACT[act], 0), (5, "i32", 1, 1),
            (6, "i32", 1, 1)], version=3 if xt.type == INT8 else 1)
        return out

    def pool(self, code, x, k, stride, padding, name):
        """MAX_POOL_2D or AVERAGE_POOL_2D; the output keeps the input's
        quantization (as TFLite's quantized pools require)."""
        xt = self.t(x)
        y = pool_float(self.deq(x), k, stride, padding, code == MAX_POOL_2D)
        out = self.activation(name, y, xt.type, scale=xt.scale[0], zp=xt.zp[0])
        self.op(code, [x], [out], OPT_POOL2D, [
            (0, "u8", padding, 0), (1, "i32", stride, 0), (2, "i32", stride, 0),
            (3, "i32", k, 0), (4, "i32", k, 0), (5, "u8", 0, 0)],
            version=2 if xt.type == INT8 else 1)
        return out

    def add_like(self, code, a, b, act=None, name="add"):
        at = self.t(a)
        if code == ADD:
            y = self.deq(a) + self.deq(b)
            opt = OPT_ADD
        else:
            y = self.deq(a) * self.deq(b)
            opt = OPT_MUL
        out = self.activation(name, y, at.type, act)
        self.op(code, [a, b], [out], opt, [(0, "u8", ACT[act], 0)],
                version=2 if at.type == INT8 else 1)
        return out


# --- float reference of the ops (for calibration) -----------------------------

def apply_act(v, act):
    if act == "relu":
        return np.maximum(v, 0.0)
    if act == "relu6":
        return np.clip(v, 0.0, 6.0)
    if act == "relu_n1_to_1":
        return np.clip(v, -1.0, 1.0)
    return v


def out_size(n, k, stride, padding, dil=1):
    ek = (k - 1) * dil + 1
    if padding == SAME:
        o = (n + stride - 1) // stride
        before = max((o - 1) * stride + ek - n, 0) // 2
    else:
        o = (n - ek) // stride + 1
        before = 0
    return o, before


def windows(x, k, stride, padding, dil=1, fill=0.0):
    """Yields (ky, kx, slice [N, OH, OW, C]) over the kernel taps."""
    n, h, w, c = x.shape
    oh, pt = out_size(h, k, stride, padding, dil)
    ow, pl = out_size(w, k, stride, padding, dil)
    ph = max((oh - 1) * stride + (k - 1) * dil + 1 - h - pt, 0)
    pw = max((ow - 1) * stride + (k - 1) * dil + 1 - w - pl, 0)
    xp = np.pad(x, ((0, 0), (pt, ph), (pl, pw), (0, 0)), constant_values=fill)
    for ky in range(k):
        for kx in range(k):
            y0, x0 = ky * dil, kx * dil
            yield ky, kx, xp[:, y0:y0 + (oh - 1) * stride + 1:stride,
                             x0:x0 + (ow - 1) * stride + 1:stride, :]


def conv_float(x, w, b, stride, padding, dil):
    acc = 0.0
    for ky, kx, s in windows(x, w.shape[1], stride, padding, dil):
        acc = acc + np.einsum("nhwc,oc->nhwo", s, w[:, ky, kx, :])
    return acc + b


def depthwise_float(x, w, b, mult, stride, padding):
    xr = np.repeat(x, mult, axis=3)
    acc = 0.0
    for ky, kx, s in windows(xr, w.shape[1], stride, padding):
        acc = acc + s * w[0, ky, kx, :]
    return acc + b


def pool_float(x, k, stride, padding, is_max):
    if is_max:
        acc = None
        for _, _, s in windows(x, k, stride, padding, fill=-np.inf):
            acc = s if acc is None else np.maximum(acc, s)
        return acc
    # SAME averages count only the taps inside the input.
    tot = cnt = 0.0
    for _, _, s in windows(x, k, stride, padding, fill=np.nan):
        tot = tot + np.nan_to_num(s)
        cnt = cnt + ~np.isnan(s)
    return tot / cnt


# --- serialization ------------------------------------------------------------

def _int_vector(b, values, dtype):
    return b.CreateNumpyVector(np.asarray(values, dtype=dtype))


def _table_vector(b, offsets):
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _data_vector(b, data):
    """Buffer.data: [ubyte] (force_align: 16)."""
    b.StartVector(1, len(data), 16)
    b.head = b.head - len(data)
    b.Bytes[b.head:b.head + len(data)] = data
    return b.EndVector()


def _options(b, fields):
    """A table of scalar or [int] fields: (slot, kind, value, default)."""
    vecs = {}
    for slot, kind, value, _ in fields:
        if kind == "vec_i32":
            vecs[slot] = _int_vector(b, value, np.int32)
    b.StartObject(max((f[0] for f in fields), default=-1) + 1)
    for slot, kind, value, default in fields:
        if kind == "u8":
            b.PrependUint8Slot(slot, value, default)
        elif kind == "i32":
            b.PrependInt32Slot(slot, value, default)
        elif kind == "f32":
            b.PrependFloat32Slot(slot, value, default)
        elif kind == "bool":
            b.PrependBoolSlot(slot, value, default)
        elif kind == "vec_i32":
            b.PrependUOffsetTRelativeSlot(slot, vecs[slot], 0)
        else:
            raise ValueError(kind)
    return b.EndObject()


def serialize(m):
    b = flatbuffers.Builder(4096)

    # Buffers: 0 is the empty buffer; one more per constant tensor.
    buffer_of = {}
    datas = [None]
    for i, t in enumerate(m.tensors):
        if t.data is not None:
            buffer_of[i] = len(datas)
            datas.append(t.data)
    buf_offs = []
    for data in datas:
        doff = _data_vector(b, data) if data else None
        b.StartObject(1)
        if doff is not None:
            b.PrependUOffsetTRelativeSlot(0, doff, 0)
        buf_offs.append(b.EndObject())
    buffers = _table_vector(b, buf_offs)

    # Tensors
    t_offs = []
    for i, t in enumerate(m.tensors):
        shape = _int_vector(b, t.shape, np.int32)
        name = b.CreateString(t.name)
        quant = None
        if t.scale is not None:
            scale = _int_vector(b, t.scale, np.float32)
            zp = _int_vector(b, t.zp, np.int64)
            b.StartObject(7)
            b.PrependUOffsetTRelativeSlot(2, scale, 0)
            b.PrependUOffsetTRelativeSlot(3, zp, 0)
            b.PrependInt32Slot(6, t.qdim, 0)
            quant = b.EndObject()
        b.StartObject(5)
        b.PrependUOffsetTRelativeSlot(0, shape, 0)
        b.PrependInt8Slot(1, t.type, 0)
        b.PrependUint32Slot(2, buffer_of.get(i, 0), 0)
        b.PrependUOffsetTRelativeSlot(3, name, 0)
        if quant is not None:
            b.PrependUOffsetTRelativeSlot(4, quant, 0)
        t_offs.append(b.EndObject())
    tensors = _table_vector(b, t_offs)

    # Operator codes, one per (code, version), in order of first use
    codes = []
    for code, version, *_ in m.ops:
        if (code, version) not in codes:
            codes.append((code, version))
    o_offs = []
    for code, version, ins, outs, opt_type, opt_fields in m.ops:
        vin = _int_vector(b, ins, np.int32)
        vout = _int_vector(b, outs, np.int32)
        opts = _options(b, opt_fields) if opt_type != OPT_NONE else None
        b.StartObject(5)
        b.PrependUint32Slot(0, codes.index((code, version)), 0)
        b.PrependUOffsetTRelativeSlot(1, vin, 0)
        b.PrependUOffsetTRelativeSlot(2, vout, 0)
        if opts is not None:
            b.PrependUint8Slot(3, opt_type, 0)
            b.PrependUOffsetTRelativeSlot(4, opts, 0)
        o_offs.append(b.EndObject())
    operators = _table_vector(b, o_offs)

    sg_in = _int_vector(b, m.inputs, np.int32)
    sg_out = _int_vector(b, m.outputs, np.int32)
    sg_name = b.CreateString("main")
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(0, tensors, 0)
    b.PrependUOffsetTRelativeSlot(1, sg_in, 0)
    b.PrependUOffsetTRelativeSlot(2, sg_out, 0)
    b.PrependUOffsetTRelativeSlot(3, operators, 0)
    b.PrependUOffsetTRelativeSlot(4, sg_name, 0)
    subgraphs = _table_vector(b, [b.EndObject()])

    c_offs = []
    for code, version in codes:
        b.StartObject(4)
        # The byte-sized code for readers of the old schema (Arm NN 20.08
        # reads only this one), and the int32 code of the current schema.
        b.PrependInt8Slot(0, min(code, PLACEHOLDER_FOR_GREATER_OP_CODES), 0)
        b.PrependInt32Slot(2, version, 1)
        b.PrependInt32Slot(3, code, 0)
        c_offs.append(b.EndObject())
    opcodes = _table_vector(b, c_offs)

    desc = b.CreateString("libapu test model %s (tests/models/make_models.py)" % m.name)
    b.StartObject(5)
    b.PrependUint32Slot(0, SCHEMA_VERSION, 0)
    b.PrependUOffsetTRelativeSlot(1, opcodes, 0)
    b.PrependUOffsetTRelativeSlot(2, subgraphs, 0)
    b.PrependUOffsetTRelativeSlot(3, desc, 0)
    b.PrependUOffsetTRelativeSlot(4, buffers, 0)
    b.Finish(b.EndObject(), file_identifier=b"TFL3")
    return bytes(b.Output())


# --- the models -----------------------------------------------------------------

def conv_int8_pc():
    """int8, per-channel weights (quantized_dimension 0), SAME, stride 2, RELU6."""
    m = Model("conv_int8_pc", 101)
    x = m.input("input", [1, 16, 16, 8], INT8, 0.02, -3)
    m.output(m.conv(x, 16, 3, stride=2, padding=SAME, act="relu6", gain=2.0))
    return m


def conv_uint8():
    """uint8 asymmetric per-tensor weights (zero point != 0), VALID, dilation 2, RELU."""
    m = Model("conv_uint8", 102)
    x = m.input("input", [1, 12, 12, 4], UINT8, 1.0 / 64, 128)
    m.output(m.conv(x, 8, 3, padding=VALID, dil=2, act="relu", pc=False,
                    wq=(-0.25, 0.45)))
    return m


def dw_int8_mult():
    """int8 DEPTHWISE_CONV_2D, depth_multiplier 2, per-channel (dimension 3)."""
    m = Model("dw_int8_mult", 103)
    x = m.input("input", [1, 12, 12, 4], INT8, 0.03, 5)
    m.output(m.depthwise(x, 2, 3))
    return m


def dw_one_channel():
    """uint8 DEPTHWISE_CONV_2D of one input channel, depth_multiplier 8, stride 2."""
    m = Model("dw_one_channel", 104)
    x = m.input("input", [1, 10, 10, 1], UINT8, 1.0 / 128, 120)
    m.output(m.depthwise(x, 8, 3, stride=2, act="relu6", pc=False, wq=(-0.6, 0.9)))
    return m


def fc_uint8():
    """uint8 FULLY_CONNECTED of a 1x4x4x8 input (flattened to 128), weights
    with a zero point, then SOFTMAX (output scale 1/256, zero point 0)."""
    m = Model("fc_uint8", 105)
    x = m.input("input", [1, 4, 4, 8], UINT8, 1.0 / 32, 128)
    w = m.weights_per_tensor("fc/weights", [10, 128], -0.08, 0.12, qtype=UINT8)
    b = m.bias("fc/bias", 10, x, w, std=0.5)
    y = m.deq(x).reshape(1, 128) @ m.deq(w).T + m.deq(b)
    fc = m.activation("fc", y, UINT8)
    m.op(FULLY_CONNECTED, [x, w, b], [fc], OPT_FC,
         [(0, "u8", 0, 0), (1, "u8", 0, 0), (2, "bool", False, False)])
    sm = softmax(m, fc, 1.0 / 256, 0)
    m.output(sm)
    return m


def softmax(m, x, scale, zp, name="softmax"):
    v = m.deq(x)
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    out = m.activation(name, e / e.sum(axis=-1, keepdims=True), m.t(x).type,
                       scale=scale, zp=zp)
    m.op(SOFTMAX, [x], [out], OPT_SOFTMAX, [(0, "f32", 1.0, 0.0)],
         version=2 if m.t(x).type == INT8 else 1)
    return out


def add_broadcast():
    """int8 ADD of [1,8,8,16] and a constant [1,1,1,16] (scales differ), RELU;
    then an ADD of two [1,8,8,16] tensors of different scales."""
    m = Model("add_broadcast", 106)
    x = m.input("input", [1, 8, 8, 16], INT8, 0.05, 2)
    cv = m.rng.uniform(-1.5, 1.0, size=[1, 1, 1, 16])
    cs, cz = qparams(cv.min(), cv.max(), INT8)
    cq = np.clip(np.round(cv / cs) + cz, -128, 127)
    c = m.const("channel_offset", cq, INT8, scale=[cs], zp=[cz])
    m.t(c).value = (cq - cz) * cs
    a = m.add_like(ADD, x, c, act="relu", name="add_bcast")
    m.output(m.add_like(ADD, a, x, name="add_same"))
    return m


def mul():
    """int8 MUL by a constant [1,1,1,C] (broadcast), then a MUL of two same-shape tensors."""
    m = Model("mul", 107)
    x = m.input("input", [1, 8, 8, 8], INT8, 0.04, -10)
    cv = m.rng.uniform(0.2, 1.8, size=[1, 1, 1, 8])
    cs, cz = qparams(cv.min(), cv.max(), INT8)
    cq = np.clip(np.round(cv / cs) + cz, -128, 127)
    c = m.const("channel_scale", cq, INT8, scale=[cs], zp=[cz])
    m.t(c).value = (cq - cz) * cs
    a = m.add_like(MUL, x, c, name="mul_bcast")
    m.output(m.add_like(MUL, a, x, name="mul_same"))
    return m


def broadcast_cpu():
    """int8 ADD of [1,8,8,4] and a constant [1,8,1,4], then MUL by a constant
    [1,1,8,4]: broadcasts the device does not do (libapu runs them on the CPU)."""
    m = Model("broadcast_cpu", 116)
    x = m.input("input", [1, 8, 8, 4], INT8, 0.05, 3)
    rv = m.rng.uniform(-1.0, 1.0, size=[1, 8, 1, 4])
    rs, rz = qparams(rv.min(), rv.max(), INT8)
    rq = np.clip(np.round(rv / rs) + rz, -128, 127)
    r = m.const("row_offset", rq, INT8, scale=[rs], zp=[rz])
    m.t(r).value = (rq - rz) * rs
    a = m.add_like(ADD, x, r, name="add_rows")
    cv = m.rng.uniform(0.3, 1.7, size=[1, 1, 8, 4])
    cs, cz = qparams(cv.min(), cv.max(), INT8)
    cq = np.clip(np.round(cv / cs) + cz, -128, 127)
    c = m.const("column_scale", cq, INT8, scale=[cs], zp=[cz])
    m.t(c).value = (cq - cz) * cs
    m.output(m.add_like(MUL, a, c, name="mul_columns"))
    return m


def pools():
    """int8 MAX_POOL_2D 3x3 stride 2 SAME, then AVERAGE_POOL_2D 2x2 stride 2 VALID."""
    m = Model("pools", 108)
    x = m.input("input", [1, 16, 16, 8], INT8, 0.03, 4)
    p = m.pool(MAX_POOL_2D, x, 3, 2, SAME, "maxpool")
    m.output(m.pool(AVERAGE_POOL_2D, p, 2, 2, VALID, "avgpool"))
    return m


def mean():
    """int8 MEAN over axes [1, 2] (keep_dims), output scale != input scale."""
    m = Model("mean", 109)
    x = m.input("input", [1, 8, 8, 16], INT8, 0.05, -6)
    axes = m.const("axes", [1, 2], INT32)
    y = m.deq(x).mean(axis=(1, 2), keepdims=True)
    s = m.t(x).scale[0] / 4
    out = m.activation("mean", y, INT8, scale=s, zp=int(np.clip(round(-y.mean() / s), -128, 127)))
    m.op(MEAN, [x, axes], [out], OPT_REDUCER, [(0, "bool", True, False)], version=2)
    m.output(out)
    return m


def pad(m, x, name):
    """PAD of H and W by 1 on each side; the pad value is the zero point."""
    xt = m.t(x)
    p = m.const(name + "/paddings", [[0, 0], [1, 1], [1, 1], [0, 0]], INT32)
    y = np.pad(m.deq(x), ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = m.activation(name, y, xt.type, scale=xt.scale[0], zp=xt.zp[0])
    m.op(PAD, [x, p], [out], OPT_PAD, [], version=2)
    return out


def pad_conv():
    """int8 PAD then a VALID 3x3 CONV_2D (foldable into SAME padding); then a
    PAD and a VALID 3x3 MAX_POOL_2D (not foldable: SAME max pooling ignores
    the border, PAD puts the zero point there)."""
    m = Model("pad_conv", 110)
    x = m.input("input", [1, 8, 8, 8], INT8, 0.04, -20)
    c = m.conv(pad(m, x, "pad1"), 16, 3, padding=VALID, name="conv")
    mp = m.pool(MAX_POOL_2D, pad(m, c, "pad2"), 3, 1, VALID, "maxpool")
    m.output(mp)
    return m


def concat_op(m, ins, axis, name, scale=None, zp=None):
    v = np.concatenate([m.deq(i) for i in ins], axis=axis)
    out = m.activation(name, v, m.t(ins[0]).type, scale=scale, zp=zp)
    m.op(CONCATENATION, ins, [out], OPT_CONCAT, [(0, "i32", axis, 0), (1, "u8", 0, 0)],
         version=2)
    return out


def concat():
    """Two int8 convs with the same output quantization CONCATENATION'd on axis
    3; then a concatenation (axis -1) of inputs quantized differently."""
    m = Model("concat", 111)
    x = m.input("input", [1, 8, 8, 4], INT8, 0.03, 0)
    a = m.conv(x, 8, 1, name="conv_a")
    b = m.conv(x, 8, 3, name="conv_b")
    # Give both one quantization, as converters do for concatenation inputs.
    lo = min(m.deq(a).min(), m.deq(b).min())
    hi = max(m.deq(a).max(), m.deq(b).max())
    s, z = qparams(lo, hi, INT8)
    for i in (a, b):
        t = m.t(i)
        v = m.deq(i)
        t.scale, t.zp = [s], [z]
        t.value = (np.clip(np.round(v / s) + z, -128, 127) - z) * s
    c1 = concat_op(m, [a, b], 3, "concat_same", s, z)
    d = m.conv(x, 4, 3, act="relu", name="conv_c")
    m.output(concat_op(m, [c1, d], -1, "concat_mixed"))
    return m


def concat_branches():
    """Three branches written in place into one CONCATENATION (a 3x3 conv, a
    depthwise 3x3, a 1x1 conv, one output quantization), then a 1x1 conv that
    reads the concatenation: every way the planner splits a convolution must
    write its slice at the concatenation's pitch, and the reader must wait for
    all three."""
    m = Model("concat_branches", 117)
    x = m.input("input", [1, 12, 12, 16], INT8, 0.03, -4)
    a = m.conv(x, 8, 3, name="branch_conv3x3")
    b = m.depthwise(x, 1, 3, name="branch_dw3x3")
    c = m.conv(x, 8, 1, name="branch_conv1x1")
    lo = min(m.deq(i).min() for i in (a, b, c))
    hi = max(m.deq(i).max() for i in (a, b, c))
    s, z = qparams(lo, hi, INT8)
    for i in (a, b, c):
        t = m.t(i)
        v = m.deq(i)
        t.scale, t.zp = [s], [z]
        t.value = (np.clip(np.round(v / s) + z, -128, 127) - z) * s
    cat = concat_op(m, [a, b, c], 3, "concat_branches", s, z)
    m.output(m.conv(cat, 8, 1, act="relu6", name="after_concat"))
    return m


def unary(m, code, x, name, opt_type=OPT_NONE, scale=None, zp=None, version=2):
    v = m.deq(x)
    f = {
        LOGISTIC: lambda v: 1.0 / (1.0 + np.exp(-v)),
        TANH: np.tanh,
        HARD_SWISH: lambda v: v * np.clip(v + 3.0, 0.0, 6.0) / 6.0,
        RELU: lambda v: np.maximum(v, 0.0),
        RELU6: lambda v: np.clip(v, 0.0, 6.0),
        RELU_N1_TO_1: lambda v: np.clip(v, -1.0, 1.0),
    }[code]
    out = m.activation(name, f(v), m.t(x).type, scale=scale, zp=zp)
    m.op(code, [x], [out], opt_type, [] if opt_type else None, version=version)
    return out


def activations():
    """int8 HARD_SWISH, RELU, RELU6, RELU_N1_TO_1, LOGISTIC (output 1/256,
    -128) and TANH (output 1/128, 0) in a chain, in an order where each of
    the first four clips part of its input (HARD_SWISH's negatives for RELU,
    6.35 for RELU6, [1, 6] for RELU_N1_TO_1)."""
    m = Model("activations", 112)
    x = m.input("input", [1, 8, 8, 8], INT8, 0.05, 0)
    h = unary(m, HARD_SWISH, x, "hard_swish", OPT_HARD_SWISH, version=1)
    r = unary(m, RELU, h, "relu")
    r6 = unary(m, RELU6, r, "relu6")
    r1 = unary(m, RELU_N1_TO_1, r6, "relu_n1_to_1")
    lg = unary(m, LOGISTIC, r1, "logistic", scale=1.0 / 256, zp=-128)
    m.output(unary(m, TANH, lg, "tanh", scale=1.0 / 128, zp=0))
    return m


def float_io():
    """FLOAT32 input, QUANTIZE to int8, int8 CONV_2D, DEQUANTIZE to FLOAT32."""
    m = Model("float_io", 113)
    x = m.input("input", [1, 8, 8, 3], FLOAT32)
    q = m.activation("quantized_input", m.deq(x), INT8, scale=tidy(2.0 / 255), zp=0)
    m.op(QUANTIZE, [x], [q], OPT_QUANTIZE, [], version=2)
    c = m.conv(q, 8, 3, name="conv")
    out = m.float_tensor("output", m.deq(c))
    m.op(DEQUANTIZE, [c], [out], OPT_DEQUANTIZE, [], version=2)
    m.output(out)
    return m


def reshape_squeeze():
    """int8 CONV_2D to 1x1x1x10, SQUEEZE (dims [1, 2]), RESHAPE to [1, 10]
    (new_shape in the options and as a shape tensor), SOFTMAX."""
    m = Model("reshape_squeeze", 114)
    x = m.input("input", [1, 4, 4, 8], INT8, 0.03, -2)
    c = m.conv(x, 10, 4, padding=VALID, name="conv", gain=0.6)
    ct = m.t(c)
    sq = m.activation("squeeze", m.deq(c).reshape(1, 10), INT8, scale=ct.scale[0], zp=ct.zp[0])
    m.op(SQUEEZE, [c], [sq], OPT_SQUEEZE, [(0, "vec_i32", [1, 2], None)])
    shape = m.const("reshape/shape", [1, 10], INT32)
    rs = m.activation("reshape", m.deq(sq).reshape(1, 10), INT8, scale=ct.scale[0], zp=ct.zp[0])
    m.op(RESHAPE, [sq, shape], [rs], OPT_RESHAPE, [(0, "vec_i32", [1, 10], None)])
    m.output(softmax(m, rs, 1.0 / 256, -128))
    return m


def unsupported_op():
    """An int8 CONV_2D then SPACE_TO_DEPTH (op 1), which the importer does not support."""
    m = Model("unsupported_op", 115)
    x = m.input("input", [1, 8, 8, 4], INT8, 0.03, 0)
    c = m.conv(x, 4, 3, name="conv")
    ct = m.t(c)
    v = m.deq(c).reshape(1, 4, 2, 4, 2, 4).transpose(0, 1, 3, 2, 4, 5).reshape(1, 4, 4, 16)
    out = m.activation("space_to_depth", v, INT8, scale=ct.scale[0], zp=ct.zp[0])
    m.op(SPACE_TO_DEPTH, [c], [out], OPT_SPACE_TO_DEPTH, [(0, "i32", 2, 0)], version=2)
    m.output(out)
    return m


def fallback_sub():
    """int8 CONV_2D 3x3 and CONV_2D 1x1 of one input, their difference (SUB,
    which libapu does not run), then a 1x1 CONV_2D of it. The importer
    refuses the file; through Arm NN with [ApuNpu, CpuRef] the SUB falls
    back to the reference backend between two parts on the APU."""
    m = Model("fallback_sub", 118)
    x = m.input("input", [1, 12, 12, 8], INT8, 0.03, -2)
    a = m.conv(x, 8, 3, name="conv_a")
    b = m.conv(x, 8, 1, name="conv_b")
    y = m.deq(a) - m.deq(b)
    d = m.activation("sub", y, INT8)
    m.op(SUB, [a, b], [d], OPT_SUB, [(0, "u8", 0, 0)], version=2)
    m.output(m.conv(d, 8, 1, name="conv_after"))
    return m


def int16():
    """CONV_2D on INT16 activations (TFLite's 16x8 scheme: int16 in and out,
    zero point 0, int8 per-channel weights, int64 bias)."""
    m = Model("int16", 116)
    x = m.input("input", [1, 8, 8, 4], INT16, 1.0 / 8192, 0)
    w = m.weights_per_channel("conv/weights", [8, 3, 3, 4], 0)
    b = m.bias("conv/bias", 8, x, w, qtype=INT64)
    y = conv_float(m.deq(x), m.deq(w), m.deq(b), 1, SAME, 1)
    s = tidy(np.abs(y).max() / 32767)
    out = m.activation("conv", y, INT16, scale=s, zp=0)
    m.op(CONV_2D, [x, w, b], [out], OPT_CONV2D,
         [(0, "u8", SAME, 0), (1, "i32", 1, 0), (2, "i32", 1, 0), (3, "u8", 0, 0)], version=4)
    m.output(out)
    return m


def int4_weights(store=INT4):
    """int8 activations with per-channel INT4 weights (TFLite's packed INT4,
    element 2i in the low nibble): CONV_2D 3x3 1x9x9x5 -> 7 (45 weights a
    channel), DEPTHWISE_CONV_2D x2 -> 14, CONV_2D 1x1 -> 11, FULLY_CONNECTED
    of the 891 values (odd) -> 13. @store INT8: the same model with the same
    values stored as INT8 (int4_as_int8), for comparison."""
    m = Model("int4_weights" if store == INT4 else "int4_as_int8", 119)
    x = m.input("input", [1, 9, 9, 5], INT8, 0.03, -1)
    c = m.conv(x, 7, 3, act="relu6", name="conv", wtype=INT4, wstore=store)
    d = m.depthwise(c, 2, 3, name="dw", wtype=INT4, wstore=store)
    p = m.conv(d, 11, 1, name="pw", wtype=INT4, wstore=store)
    w = m.weights_per_channel("fc/weights", [13, 891], 0, qtype=INT4, store=store)
    b = m.bias("fc/bias", 13, p, w, std=0.5)
    y = m.deq(p).reshape(1, 891) @ m.deq(w).T + m.deq(b)
    fc = m.activation("fc", y, INT8)
    m.op(FULLY_CONNECTED, [p, w, b], [fc], OPT_FC,
         [(0, "u8", 0, 0), (1, "u8", 0, 0), (2, "bool", False, False)], version=7)
    m.output(fc)
    return m


def int4_as_int8():
    return int4_weights(store=INT8)


MODELS = [conv_int8_pc, conv_uint8, dw_int8_mult, dw_one_channel, fc_uint8, add_broadcast,
          broadcast_cpu, mul, pools, mean, pad_conv, concat, concat_branches, activations,
          float_io, reshape_squeeze, unsupported_op, int16, fallback_sub, int4_weights,
          int4_as_int8]


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: %s OUTDIR\n" % argv[0])
        return 2
    outdir = argv[1]
    os.makedirs(outdir, exist_ok=True)
    for make in MODELS:
        m = make()
        path = os.path.join(outdir, m.name + ".tflite")
        data = serialize(m)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
