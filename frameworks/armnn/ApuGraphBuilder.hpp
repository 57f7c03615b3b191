// SPDX-License-Identifier: MIT
//
// Arm NN layers to a libapu graph (apu/apu_graph.h). The translation is
// field by field: every decision about what the APU can run, and how, is
// libapu's (apu_model_create()), which lowers a graph exactly as the same
// ops in a .tflite file.
//
#pragma once

#include <armnn/Descriptors.hpp>
#include <armnn/Optional.hpp>
#include <armnn/Tensor.hpp>

#include <apu/apu_graph.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace apu_armnn
{

// A layer (or a tensor) the translation cannot express: falls back.
class Unsupported : public std::runtime_error
{
public:
    explicit Unsupported(const std::string& what) : std::runtime_error(what) {}
};

// Builds one apu_graph; each method adds what one Arm NN layer is.
// Tensor arguments are indexes returned by Tensor() or by earlier layers.
class GraphBuilder
{
public:
    GraphBuilder();
    ~GraphBuilder();
    GraphBuilder(const GraphBuilder&) = delete;
    GraphBuilder& operator=(const GraphBuilder&) = delete;

    // An activation tensor (no contents).
    int Tensor(const armnn::TensorInfo& info, const std::string& name);

    int Convolution2d(int in, const armnn::TensorInfo& out, const armnn::Convolution2dDescriptor& d,
                      const armnn::ConstTensor& weights, const armnn::Optional<armnn::ConstTensor>& bias,
                      const std::string& name);
    int DepthwiseConvolution2d(int in, const armnn::TensorInfo& inInfo, const armnn::TensorInfo& out,
                               const armnn::DepthwiseConvolution2dDescriptor& d,
                               const armnn::ConstTensor& weights,
                               const armnn::Optional<armnn::ConstTensor>& bias, const std::string& name);
    int FullyConnected(int in, const armnn::TensorInfo& out, const armnn::FullyConnectedDescriptor& d,
                       const armnn::ConstTensor& weights, const armnn::Optional<armnn::ConstTensor>& bias,
                       const std::string& name);
    int Pooling2d(int in, const armnn::TensorInfo& out, const armnn::Pooling2dDescriptor& d,
                  const std::string& name);
    int Activation(int in, const armnn::TensorInfo& out, const armnn::ActivationDescriptor& d,
                   const std::string& name);
    int Elementwise(apu_graph_op_code code, int a, int b, const armnn::TensorInfo& out,
                    const std::string& name);
    int Mean(int in, const armnn::TensorInfo& out, const armnn::MeanDescriptor& d, const std::string& name);
    int Concat(const std::vector<int>& in, const armnn::TensorInfo& out, const armnn::OriginsDescriptor& d,
               const std::string& name);
    int Pad(int in, const armnn::TensorInfo& out, const armnn::PadDescriptor& d, const std::string& name);
    int Softmax(int in, const armnn::TensorInfo& inInfo, const armnn::TensorInfo& out,
                const armnn::SoftmaxDescriptor& d, const std::string& name);
    int Reshape(int in, const armnn::TensorInfo& out, const std::string& name);
    // A constant operand (an Arm NN Constant layer): int8 or uint8.
    int Constant(const armnn::ConstTensor& t, const std::string& name);
    // Requantization between int8 and uint8 (not from or to float).
    int Quantize(int in, const armnn::TensorInfo& out, const std::string& name);

    void SetInputs(const std::vector<int>& tensors);
    void SetOutputs(const std::vector<int>& tensors);

    apu_graph* Get() { return m_Graph; }
    // Hands the graph over (the builder is empty after).
    apu_graph* Release();

private:
    int AddTensor(const armnn::TensorInfo& info, const std::string& name, const void* data,
                  size_t size, bool bias);
    int Constant(const armnn::ConstTensor& t, const std::string& name, bool bias);
    int ConstantI32(const std::vector<int32_t>& v, std::vector<int> dims, const std::string& name);
    int AddOp(apu_graph_op& op, const std::vector<int>& in, int out);

    apu_graph* m_Graph;
};

// Whether @info is an activation type the APU's graphs take (uint8, int8).
bool IsQuantized8(const armnn::TensorInfo& info);

} // namespace apu_armnn
