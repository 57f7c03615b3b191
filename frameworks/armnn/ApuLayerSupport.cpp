// SPDX-License-Identifier: MIT
//
// The per-layer check: the layer alone as a libapu graph, built on the CPU
// backend. Weights are zeros of the right type and shape: what libapu
// decides depends on shapes, types and scales, never on weight values.
//
#include "ApuLayerSupport.hpp"
#include "ApuBackend.hpp"
#include "ApuGraphBuilder.hpp"

#include <functional>
#include <memory>

namespace apu_armnn
{

namespace
{

using Reason = LayerSupport::Reason;

// A constant tensor of zeros.
struct Zeros
{
    explicit Zeros(const armnn::TensorInfo& info)
        : m_Buf(info.GetNumBytes()), m_Tensor(info, m_Buf.data())
    {
    }
    std::vector<uint8_t> m_Buf;
    armnn::ConstTensor m_Tensor;
};

armnn::Optional<armnn::ConstTensor> ZerosOf(const armnn::Optional<armnn::TensorInfo>& info,
                                            std::unique_ptr<Zeros>& keep)
{
    if (!info.has_value())
        return armnn::EmptyOptional();
    keep = std::make_unique<Zeros>(info.value());
    return armnn::Optional<armnn::ConstTensor>(keep->m_Tensor);
}

bool Refuse(Reason reason, const std::string& why)
{
    if (reason.has_value())
        reason.value() = "ApuNpu: " + why;
    return false;
}

// Whether the layer that @add puts after inputs @ins builds.
bool Check(const std::vector<armnn::TensorInfo>& ins,
           const std::function<int(GraphBuilder&, const std::vector<int>&)>& add, Reason reason)
{
    std::string why;
    if (!Available(why))
        return Refuse(reason, why);
    try
    {
        GraphBuilder b;
        std::vector<int> in;
        for (size_t i = 0; i < ins.size(); i++)
            in.push_back(b.Tensor(ins[i], "input " + std::to_string(i)));
        int out = add(b, in);
        b.SetInputs(in);
        b.SetOutputs({ out });
        return Builds(b.Get(), why) || Refuse(reason, why);
    }
    catch (const std::exception& e)
    {
        return Refuse(reason, e.what());
    }
}

} // namespace

bool LayerSupport::IsActivationSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                                         const armnn::ActivationDescriptor& d, Reason reason) const
{
    return Check({ input }, [&](GraphBuilder& b, const std::vector<int>& in) {
        return b.Activation(in[0], output, d, "activation");
    }, reason);
}

bool LayerSupport::IsAdditionSupported(const armnn::TensorInfo& input0, const armnn::TensorInfo& input1,
                                       const armnn::TensorInfo& output, Reason reason) const
{
    return Check({ input0, input1 }, [&](GraphBuilder& b, const std::vector<int>& in) {
        return b.Elementwise(APU_GRAPH_ADD, in[0], in[1], output, "addition");
    }, reason);
}

bool LayerSupport::IsConcatSupported(const std::vector<const armnn::TensorInfo*> inputs,
                                     const armnn::TensorInfo& output, const armnn::OriginsDescriptor& d,
                                     Reason reason) const
{
    std::vector<armnn::TensorInfo> ins;
    for (const armnn::TensorInfo* i : inputs)
        ins.push_back(*i);
    return Check(ins, [&](GraphBuilder& b, const std::vector<int>& in) {
        return b.Concat(in, output, d, "concatenation");
    }, reason);
}

// A constant operand of a layer the APU runs becomes part of its graph.
bool LayerSupport::IsConstantSupported(const armnn::TensorInfo& output, Reason reason) const
{
    std::string why;
    if (!Available(why))
        return Refuse(reason, why);
    return IsQuantized8(output) || Refuse(reason, "constants other than int8 or uint8 per tensor");
}

bool LayerSupport::IsConvolution2dSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                                            const armnn::Convolution2dDescriptor& d,
                                            const armnn::TensorInfo& weights,
                                            const armnn::Optional<armnn::TensorInfo>& biases, Reason reason) const
{
    Zeros w(weights);
    std::unique_ptr<Zeros> keep;
    auto bias = ZerosOf(biases, keep);
    return Check({ input }, [&](GraphBuilder& b, const std::vector<int>& in) {
        return b.Convolution2d(in[0], output, d, w.m_Tensor, bias, "convolution");
    }, reason);
}

bool LayerSupport::IsDepthwiseConvolutionSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                                                   const armnn::DepthwiseConvolution2dDescriptor& d,
                                                   const armnn::TensorInfo& weights,
                                                   const armnn::Optional<armnn::TensorInfo>& biases,
                                                   Reason reason) const
{
    Zeros w(weights);
    std::unique_ptr<Zeros> keep;
    auto bias = ZerosOf(biases, keep);
    return Check({ input }, [&](GraphBuilder& b, const std::vector<int>& in) {
        return b.DepthwiseConvolution2d(in[0], input, output, d, w.m_Tensor, bias, "depthwise");
    }, reason);
}

bool LayerSupport::IsFullyConnectedSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                                             const armnn::TensorInfo& weights, const armnn::TensorInfo& biases,
                                             const armnn::FullyConnectedDescriptor& d, Reason reason) const
{
    Zeros w(weights);
    std::unique_ptr<Zeros> keep;
    auto bias = ZerosOf(d.m_BiasEnabled ? armnn::Optional<armnn::TensorInfo>(biases)
                                        : armnn::Optional<armnn::TensorInfo>(), keep);
    return Check({ input }, [&](GraphBuilder& b, const std::vector<int>& in) {
        return b.FullyConnected(in[0], output, d, w.m_Tensor, bias, "fully connected");
    }, reason);
}

// Inputs, outputs and copies are memory the backend's handles hold.
bool LayerSupport::IsInputSupported(const armnn::TensorInfo&, Reason) const
{
    return true;
}

bool LayerSupport::IsOutputSupported(const armnn::TensorInfo&, Reason) const
{
    return true;
}

bool LayerSupport::IsMemCopySupported(const armnn::TensorInfo&, const armnn::TensorInfo&, Reason) const
{
    return true;
}

bool LayerSupport::IsPreCompiledSupported(const armnn::TensorInfo&, const armnn::PreCompiledDescriptor&,
                                          Reason) const
{
    return true;
}

bool LayerSupport::IsMeanSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                                   const armnn::MeanDescriptor& d, Reason reason) const
{
    return Check({ input }, [&](GraphBuilder& b, const std::vector<int>& in) {
        return b.Mean(in[0], output, d, "mean");
    }, reason);
}

bool LayerSupport::IsMultiplicationSupported(const armnn::TensorInfo& input0, const armnn::TensorInfo& input1,
                                             const armnn::TensorInfo& output, Reason reason) const
{
    return Check({ input0, input1 }, [&](GraphBuilder& b, const std::vector<int>& in) {
        return b.Elementwise(APU_GRAPH_MUL, in[0], in[1], output, "multiplication");
    }, reason);
}

bool LayerSupport::IsPadSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                                  const armnn::PadDescriptor& d, Reason reason) const
{
    return Check({ input }, [&](GraphBuilder& b, const std::vector<int>& in) {
        return b.Pad(in[0], output, d, "pad");
    }, reason);
}

bool LayerSupport::IsPooling2dSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                                        const armnn::Pooling2dDescriptor& d, Reason reason) const
{
    return Check({ input }, [&](GraphBuilder& b, const std::vector<int>& in) {
        return b.Pooling2d(in[0], output, d, "pooling");
    }, reason);
}

bool LayerSupport::IsQuantizeSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                                       Reason reason) const
{
    return Check({ input }, [&](GraphBuilder& b, const std::vector<int>& in) {
        return b.Quantize(in[0], output, "quantize");
    }, reason);
}

bool LayerSupport::IsReshapeSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                                      const armnn::ReshapeDescriptor&, Reason reason) const
{
    return Check({ input }, [&](GraphBuilder& b, const std::vector<int>& in) {
        return b.Reshape(in[0], output, "reshape");
    }, reason);
}

bool LayerSupport::IsSoftmaxSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                                      const armnn::SoftmaxDescriptor& d, Reason reason) const
{
    return Check({ input }, [&](GraphBuilder& b, const std::vector<int>& in) {
        return b.Softmax(in[0], input, output, d, "softmax");
    }, reason);
}

} // namespace apu_armnn
