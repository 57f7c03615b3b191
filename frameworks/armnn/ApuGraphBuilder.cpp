// SPDX-License-Identifier: MIT
//
// Arm NN layers to a libapu graph: layouts and descriptors as TFLite has
// them (Arm NN's TFLite parser made them from those), nothing decided here.
//
#include "ApuGraphBuilder.hpp"

#include <armnn/Types.hpp>
#include <armnn/TypesUtils.hpp>

#include <cerrno>
#include <cstring>

namespace apu_armnn
{

namespace
{

std::string Errno(const char* what, int err)
{
    return std::string(what) + ": " + std::strerror(-err);
}

} // namespace

bool IsQuantized8(const armnn::TensorInfo& info)
{
    switch (info.GetDataType())
    {
        case armnn::DataType::QAsymmU8:
        case armnn::DataType::QAsymmS8:
            return !info.HasPerAxisQuantization();
        default:
            return false;
    }
}

GraphBuilder::GraphBuilder()
    : m_Graph(nullptr)
{
    int ret = apu_graph_create(&m_Graph);
    if (ret)
    {
        throw std::runtime_error(Errno("apu_graph_create", ret));
    }
}

GraphBuilder::~GraphBuilder()
{
    apu_graph_destroy(m_Graph);
}

apu_graph* GraphBuilder::Release()
{
    apu_graph* g = m_Graph;
    m_Graph = nullptr;
    return g;
}

int GraphBuilder::AddTensor(const armnn::TensorInfo& info, const std::string& name, const void* data,
                            size_t size, bool bias)
{
    apu_graph_tensor t{};
    std::vector<float> scales;
    std::vector<int64_t> zps;
    const armnn::TensorShape& shape = info.GetShape();

    if (shape.GetNumDimensions() > APU_GRAPH_MAX_DIMS)
    {
        throw Unsupported("tensor '" + name + "' of rank " + std::to_string(shape.GetNumDimensions()));
    }
    t.name = name.c_str();
    t.ndims = shape.GetNumDimensions();
    for (unsigned int d = 0; d < t.ndims; d++)
    {
        t.dims[d] = static_cast<int>(shape[d]);
    }
    switch (info.GetDataType())
    {
        case armnn::DataType::QAsymmU8:
            t.type = APU_GRAPH_UINT8;
            break;
        case armnn::DataType::QAsymmS8:
        case armnn::DataType::QSymmS8:
            t.type = APU_GRAPH_INT8;
            break;
        case armnn::DataType::Signed32:
            t.type = APU_GRAPH_INT32;
            break;
        default:
            throw Unsupported("tensor '" + name + "' of type " + armnn::GetDataTypeName(info.GetDataType()));
    }
    // A bias's scale (input x weight) is implied: TFLite's kernels ignore it.
    if (!bias && t.type != APU_GRAPH_INT32)
    {
        if (info.HasPerAxisQuantization())
        {
            scales = info.GetQuantizationScales();
            zps.assign(scales.size(), 0);
            t.quant_dim = static_cast<int>(info.GetQuantizationDim().value());
        }
        else
        {
            scales.push_back(info.GetQuantizationScale());
            zps.push_back(info.GetQuantizationOffset());
        }
        t.nquant = static_cast<unsigned int>(scales.size());
        t.scales = scales.data();
        t.zero_points = zps.data();
    }
    t.data = data;
    t.data_size = size;
    int idx = apu_graph_add_tensor(m_Graph, &t);
    if (idx < 0)
    {
        throw Unsupported(Errno(("tensor '" + name + "'").c_str(), idx));
    }
    return idx;
}

int GraphBuilder::Tensor(const armnn::TensorInfo& info, const std::string& name)
{
    if (!IsQuantized8(info))
    {
        throw Unsupported("tensor '" + name + "' is " + armnn::GetDataTypeName(info.GetDataType()) +
                          " (uint8 and int8 per tensor run on the APU)");
    }
    return AddTensor(info, name, nullptr, 0, false);
}

int GraphBuilder::Constant(const armnn::ConstTensor& t, const std::string& name, bool bias)
{
    return AddTensor(t.GetInfo(), name, t.GetMemoryArea(), t.GetNumBytes(), bias);
}

int GraphBuilder::ConstantI32(const std::vector<int32_t>& v, std::vector<int> dims, const std::string& name)
{
    apu_graph_tensor t{};

    t.name = name.c_str();
    t.type = APU_GRAPH_INT32;
    t.ndims = static_cast<unsigned int>(dims.size());
    for (size_t d = 0; d < dims.size(); d++)
    {
        t.dims[d] = dims[d];
    }
    t.data = v.data();
    t.data_size = v.size() * sizeof(int32_t);
    int idx = apu_graph_add_tensor(m_Graph, &t);
    if (idx < 0)
    {
        throw Unsupported(Errno(("constant '" + name + "'").c_str(), idx));
    }
    return idx;
}

int GraphBuilder::AddOp(apu_graph_op& op, const std::vector<int>& in, int out)
{
    op.nin = static_cast<unsigned int>(in.size());
    op.inputs = in.data();
    op.nout = 1;
    op.outputs = &out;
    int ret = apu_graph_add_op(m_Graph, &op);
    if (ret < 0)
    {
        throw Unsupported(Errno("apu_graph_add_op", ret));
    }
    return out;
}

namespace
{

void Padding(apu_graph_op& op, uint32_t top, uint32_t bottom, uint32_t left, uint32_t right)
{
    op.padding = (top | bottom | left | right) ? APU_GRAPH_PAD_EXPLICIT : APU_GRAPH_PAD_VALID;
    op.pad[0] = top;
    op.pad[1] = bottom;
    op.pad[2] = left;
    op.pad[3] = right;
}

// Weights the re-layouts below read as bytes: int8 or uint8, nothing wider.
void RequireQuantizedWeights(const armnn::ConstTensor& w, const std::string& name)
{
    switch (w.GetDataType())
    {
        case armnn::DataType::QAsymmU8:
        case armnn::DataType::QAsymmS8:
        case armnn::DataType::QSymmS8:
            return;
        default:
            throw Unsupported("layer '" + name + "': weights of type " + armnn::GetDataTypeName(w.GetDataType()));
    }
}

void RequireNhwc(armnn::DataLayout layout, const std::string& name)
{
    if (layout != armnn::DataLayout::NHWC)
    {
        throw Unsupported("layer '" + name + "': NCHW (the APU's layout is NHWC)");
    }
}

} // namespace

int GraphBuilder::Convolution2d(int in, const armnn::TensorInfo& out, const armnn::Convolution2dDescriptor& d,
                                const armnn::ConstTensor& weights, const armnn::Optional<armnn::ConstTensor>& bias,
                                const std::string& name)
{
    apu_graph_op op{};

    RequireNhwc(d.m_DataLayout, name);
    op.code = APU_GRAPH_CONV_2D;
    Padding(op, d.m_PadTop, d.m_PadBottom, d.m_PadLeft, d.m_PadRight);
    op.stride_w = static_cast<int>(d.m_StrideX);
    op.stride_h = static_cast<int>(d.m_StrideY);
    op.dilation_w = static_cast<int>(d.m_DilationX);
    op.dilation_h = static_cast<int>(d.m_DilationY);
    // NHWC weights are [out][kh][kw][in]: TFLite's layout.
    int w = Constant(weights, name + "/weights", false);
    int b = d.m_BiasEnabled && bias.has_value() ? Constant(bias.value(), name + "/bias", true) : -1;
    return AddOp(op, { in, w, b }, Tensor(out, name));
}

int GraphBuilder::DepthwiseConvolution2d(int in, const armnn::TensorInfo& inInfo, const armnn::TensorInfo& out,
                                         const armnn::DepthwiseConvolution2dDescriptor& d,
                                         const armnn::ConstTensor& weights,
                                         const armnn::Optional<armnn::ConstTensor>& bias, const std::string& name)
{
    apu_graph_op op{};
    const armnn::TensorShape& ws = weights.GetShape();

    RequireNhwc(d.m_DataLayout, name);
    RequireQuantizedWeights(weights, name);
    if (ws.GetNumDimensions() != 4 || inInfo.GetNumDimensions() != 4 || ws[1] != inInfo.GetShape()[3])
    {
        throw Unsupported("layer '" + name + "': depthwise weights not [M][in][kh][kw]");
    }
    // Arm NN keeps depthwise weights as [M][in][kh][kw]; TFLite's are
    // [1][kh][kw][in x M], output channel i x M + m (its scales' order).
    const unsigned int m = ws[0], ic = ws[1], kh = ws[2], kw = ws[3];
    const unsigned int oc = ic * m;
    std::vector<int8_t> tfl(static_cast<size_t>(kh) * kw * oc);
    const int8_t* src = static_cast<const int8_t*>(weights.GetMemoryArea());
    for (unsigned int mi = 0; mi < m; mi++)
        for (unsigned int i = 0; i < ic; i++)
            for (unsigned int y = 0; y < kh; y++)
                for (unsigned int x = 0; x < kw; x++)
                    tfl[(static_cast<size_t>(y) * kw + x) * oc + i * m + mi] =
                        src[((static_cast<size_t>(mi) * ic + i) * kh + y) * kw + x];
    armnn::TensorInfo wi = weights.GetInfo();
    wi.SetShape(armnn::TensorShape({ 1, kh, kw, oc }));
    if (wi.HasPerAxisQuantization())
    {
        if (wi.GetQuantizationScales().size() != oc)
        {
            throw Unsupported("layer '" + name + "': per-channel weight scales not one per output channel");
        }
        wi.SetQuantizationDim(armnn::Optional<unsigned int>(3));
    }
    op.code = APU_GRAPH_DEPTHWISE_CONV_2D;
    Padding(op, d.m_PadTop, d.m_PadBottom, d.m_PadLeft, d.m_PadRight);
    op.stride_w = static_cast<int>(d.m_StrideX);
    op.stride_h = static_cast<int>(d.m_StrideY);
    op.dilation_w = static_cast<int>(d.m_DilationX);
    op.dilation_h = static_cast<int>(d.m_DilationY);
    op.depth_multiplier = static_cast<int>(m);
    int w = AddTensor(wi, name + "/weights", tfl.data(), tfl.size(), false);
    int b = d.m_BiasEnabled && bias.has_value() ? Constant(bias.value(), name + "/bias", true) : -1;
    return AddOp(op, { in, w, b }, Tensor(out, name));
}

int GraphBuilder::FullyConnected(int in, const armnn::TensorInfo& out, const armnn::FullyConnectedDescriptor& d,
                                 const armnn::ConstTensor& weights, const armnn::Optional<armnn::ConstTensor>& bias,
                                 const std::string& name)
{
    apu_graph_op op{};
    const armnn::TensorShape& ws = weights.GetShape();

    if (ws.GetNumDimensions() != 2)
    {
        throw Unsupported("layer '" + name + "': weights of rank " + std::to_string(ws.GetNumDimensions()));
    }
    RequireQuantizedWeights(weights, name);
    op.code = APU_GRAPH_FULLY_CONNECTED;
    int w;
    if (d.m_TransposeWeightMatrix)
    {
        // [out][in]: TFLite's layout.
        w = Constant(weights, name + "/weights", false);
    }
    else
    {
        // [in][out]: transposed to [out][in].
        const unsigned int ni = ws[0], no = ws[1];
        std::vector<int8_t> t(static_cast<size_t>(ni) * no);
        const int8_t* src = static_cast<const int8_t*>(weights.GetMemoryArea());
        for (unsigned int i = 0; i < ni; i++)
            for (unsigned int o = 0; o < no; o++)
                t[static_cast<size_t>(o) * ni + i] = src[static_cast<size_t>(i) * no + o];
        armnn::TensorInfo wi = weights.GetInfo();
        if (wi.HasPerAxisQuantization())
        {
            throw Unsupported("layer '" + name + "': per-channel weights stored [in][out]");
        }
        wi.SetShape(armnn::TensorShape({ no, ni }));
        w = AddTensor(wi, name + "/weights", t.data(), t.size(), false);
    }
    int b = d.m_BiasEnabled && bias.has_value() ? Constant(bias.value(), name + "/bias", true) : -1;
    return AddOp(op, { in, w, b }, Tensor(out, name));
}

int GraphBuilder::Pooling2d(int in, const armnn::TensorInfo& out, const armnn::Pooling2dDescriptor& d,
                            const std::string& name)
{
    apu_graph_op op{};

    RequireNhwc(d.m_DataLayout, name);
    if (d.m_PoolType == armnn::PoolingAlgorithm::Max)
    {
        op.code = APU_GRAPH_MAX_POOL_2D;
    }
    else if (d.m_PoolType == armnn::PoolingAlgorithm::Average)
    {
        op.code = APU_GRAPH_AVERAGE_POOL_2D;
    }
    else
    {
        throw Unsupported("layer '" + name + "': L2 pooling");
    }
    if (d.m_OutputShapeRounding != armnn::OutputShapeRounding::Floor)
    {
        throw Unsupported("layer '" + name + "': output shape rounded up");
    }
    Padding(op, d.m_PadTop, d.m_PadBottom, d.m_PadLeft, d.m_PadRight);
    // TFLite's average excludes the padding; a max is the same either way.
    if (op.padding != APU_GRAPH_PAD_VALID && op.code == APU_GRAPH_AVERAGE_POOL_2D &&
        d.m_PaddingMethod != armnn::PaddingMethod::Exclude)
    {
        throw Unsupported("layer '" + name + "': average over padding counted as zeros");
    }
    op.filter_w = static_cast<int>(d.m_PoolWidth);
    op.filter_h = static_cast<int>(d.m_PoolHeight);
    op.stride_w = static_cast<int>(d.m_StrideX);
    op.stride_h = static_cast<int>(d.m_StrideY);
    return AddOp(op, { in }, Tensor(out, name));
}

int GraphBuilder::Activation(int in, const armnn::TensorInfo& out, const armnn::ActivationDescriptor& d,
                             const std::string& name)
{
    apu_graph_op op{};

    switch (d.m_Function)
    {
        case armnn::ActivationFunction::ReLu:
            op.code = APU_GRAPH_RELU;
            break;
        case armnn::ActivationFunction::BoundedReLu:
            // min(a, max(b, x))
            if (d.m_A == 6.0f && d.m_B == 0.0f)
                op.code = APU_GRAPH_RELU6;
            else if (d.m_A == 1.0f && d.m_B == -1.0f)
                op.code = APU_GRAPH_RELU_N1_TO_1;
            else
                throw Unsupported("layer '" + name + "': bounded ReLU to [" + std::to_string(d.m_B) + ", " +
                                  std::to_string(d.m_A) + "]");
            break;
        case armnn::ActivationFunction::Sigmoid:
            op.code = APU_GRAPH_LOGISTIC;
            break;
        case armnn::ActivationFunction::TanH:
            // a x tanh(b x)
            if (d.m_A != 1.0f || d.m_B != 1.0f)
                throw Unsupported("layer '" + name + "': scaled tanh");
            op.code = APU_GRAPH_TANH;
            break;
        case armnn::ActivationFunction::HardSwish:
            op.code = APU_GRAPH_HARD_SWISH;
            break;
        default:
            throw Unsupported("layer '" + name + "': activation " +
                              armnn::GetActivationFunctionAsCString(d.m_Function));
    }
    return AddOp(op, { in }, Tensor(out, name));
}

int GraphBuilder::Elementwise(apu_graph_op_code code, int a, int b, const armnn::TensorInfo& out,
                              const std::string& name)
{
    apu_graph_op op{};

    op.code = code;
    return AddOp(op, { a, b }, Tensor(out, name));
}

int GraphBuilder::Mean(int in, const armnn::TensorInfo& out, const armnn::MeanDescriptor& d, const std::string& name)
{
    apu_graph_op op{};
    std::vector<int32_t> axes(d.m_Axis.begin(), d.m_Axis.end());

    if (axes.empty())
    {
        throw Unsupported("layer '" + name + "': mean over every dimension");
    }
    op.code = APU_GRAPH_MEAN;
    op.keep_dims = d.m_KeepDims;
    int ax = ConstantI32(axes, { static_cast<int>(axes.size()) }, name + "/axes");
    return AddOp(op, { in, ax }, Tensor(out, name));
}

int GraphBuilder::Concat(const std::vector<int>& in, const armnn::TensorInfo& out,
                         const armnn::OriginsDescriptor& d, const std::string& name)
{
    apu_graph_op op{};
    const unsigned int axis = d.GetConcatAxis();

    // TFLite concatenates in input order: the views must be in that order.
    if (d.GetNumViews() != in.size())
    {
        throw Unsupported("layer '" + name + "': views and inputs differ");
    }
    for (uint32_t v = 0; v < d.GetNumViews(); v++)
    {
        const uint32_t* o = d.GetViewOrigin(v);
        for (uint32_t k = 0; k < d.GetNumDimensions(); k++)
        {
            if (k != axis && o[k] != 0)
            {
                throw Unsupported("layer '" + name + "': views offset off the concatenation axis");
            }
        }
        if (v && o[axis] <= d.GetViewOrigin(v - 1)[axis])
        {
            throw Unsupported("layer '" + name + "': views not in input order");
        }
    }
    op.code = APU_GRAPH_CONCATENATION;
    op.axis = static_cast<int>(axis);
    return AddOp(op, in, Tensor(out, name));
}

int GraphBuilder::Pad(int in, const armnn::TensorInfo& out, const armnn::PadDescriptor& d, const std::string& name)
{
    apu_graph_op op{};
    std::vector<int32_t> pads;

    // TFLite pads quantized tensors with their zero point: Arm NN's 0.
    if (d.m_PadValue != 0.0f)
    {
        throw Unsupported("layer '" + name + "': padding with a value");
    }
    for (const auto& p : d.m_PadList)
    {
        pads.push_back(static_cast<int32_t>(p.first));
        pads.push_back(static_cast<int32_t>(p.second));
    }
    op.code = APU_GRAPH_PAD;
    int pt = ConstantI32(pads, { static_cast<int>(d.m_PadList.size()), 2 }, name + "/paddings");
    return AddOp(op, { in, pt }, Tensor(out, name));
}

int GraphBuilder::Softmax(int in, const armnn::TensorInfo& inInfo, const armnn::TensorInfo& out,
                          const armnn::SoftmaxDescriptor& d, const std::string& name)
{
    apu_graph_op op{};

    if (d.m_Axis != -1 && d.m_Axis != static_cast<int>(inInfo.GetNumDimensions()) - 1)
    {
        throw Unsupported("layer '" + name + "': softmax along axis " + std::to_string(d.m_Axis));
    }
    op.code = APU_GRAPH_SOFTMAX;
    op.beta = d.m_Beta;
    return AddOp(op, { in }, Tensor(out, name));
}

int GraphBuilder::Reshape(int in, const armnn::TensorInfo& out, const std::string& name)
{
    apu_graph_op op{};
    const armnn::TensorShape& s = out.GetShape();

    if (s.GetNumDimensions() > APU_GRAPH_MAX_DIMS)
    {
        throw Unsupported("layer '" + name + "': rank " + std::to_string(s.GetNumDimensions()));
    }
    op.code = APU_GRAPH_RESHAPE;
    op.nvec = s.GetNumDimensions();
    for (unsigned int k = 0; k < op.nvec; k++)
    {
        op.vec[k] = static_cast<int32_t>(s[k]);
    }
    return AddOp(op, { in }, Tensor(out, name));
}

int GraphBuilder::Constant(const armnn::ConstTensor& t, const std::string& name)
{
    if (!IsQuantized8(t.GetInfo()))
    {
        throw Unsupported("constant '" + name + "' is " + armnn::GetDataTypeName(t.GetDataType()));
    }
    return AddTensor(t.GetInfo(), name, t.GetMemoryArea(), t.GetNumBytes(), false);
}

int GraphBuilder::Quantize(int in, const armnn::TensorInfo& out, const std::string& name)
{
    apu_graph_op op{};

    op.code = APU_GRAPH_QUANTIZE;
    return AddOp(op, { in }, Tensor(out, name));
}

void GraphBuilder::SetInputs(const std::vector<int>& tensors)
{
    int ret = apu_graph_set_inputs(m_Graph, tensors.data(), static_cast<unsigned int>(tensors.size()));
    if (ret)
    {
        throw Unsupported(Errno("apu_graph_set_inputs", ret));
    }
}

void GraphBuilder::SetOutputs(const std::vector<int>& tensors)
{
    int ret = apu_graph_set_outputs(m_Graph, tensors.data(), static_cast<unsigned int>(tensors.size()));
    if (ret)
    {
        throw Unsupported(Errno("apu_graph_set_outputs", ret));
    }
}

} // namespace apu_armnn
