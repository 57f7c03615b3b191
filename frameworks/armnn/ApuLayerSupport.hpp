// SPDX-License-Identifier: MIT
//
// Which layers ApuNpu takes: each layer Arm NN asks about is translated
// alone into a libapu graph (zeros for its weights) and built on the CPU
// backend; what libapu refuses, with its reason, goes to the next backend.
//
#pragma once

#include <backendsCommon/LayerSupportBase.hpp>

namespace apu_armnn
{

class LayerSupport : public armnn::LayerSupportBase
{
public:
    using Reason = armnn::Optional<std::string&>;

    bool IsActivationSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                               const armnn::ActivationDescriptor& descriptor, Reason reason) const override;
    bool IsAdditionSupported(const armnn::TensorInfo& input0, const armnn::TensorInfo& input1,
                             const armnn::TensorInfo& output, Reason reason) const override;
    bool IsConcatSupported(const std::vector<const armnn::TensorInfo*> inputs, const armnn::TensorInfo& output,
                           const armnn::OriginsDescriptor& descriptor, Reason reason) const override;
    bool IsConstantSupported(const armnn::TensorInfo& output, Reason reason) const override;
    bool IsConvolution2dSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                                  const armnn::Convolution2dDescriptor& descriptor,
                                  const armnn::TensorInfo& weights, const armnn::Optional<armnn::TensorInfo>& biases,
                                  Reason reason) const override;
    bool IsDepthwiseConvolutionSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                                         const armnn::DepthwiseConvolution2dDescriptor& descriptor,
                                         const armnn::TensorInfo& weights,
                                         const armnn::Optional<armnn::TensorInfo>& biases,
                                         Reason reason) const override;
    bool IsFullyConnectedSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                                   const armnn::TensorInfo& weights, const armnn::TensorInfo& biases,
                                   const armnn::FullyConnectedDescriptor& descriptor, Reason reason) const override;
    bool IsInputSupported(const armnn::TensorInfo& input, Reason reason) const override;
    bool IsMeanSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                         const armnn::MeanDescriptor& descriptor, Reason reason) const override;
    bool IsMemCopySupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                            Reason reason) const override;
    bool IsMultiplicationSupported(const armnn::TensorInfo& input0, const armnn::TensorInfo& input1,
                                   const armnn::TensorInfo& output, Reason reason) const override;
    bool IsOutputSupported(const armnn::TensorInfo& output, Reason reason) const override;
    bool IsPadSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                        const armnn::PadDescriptor& descriptor, Reason reason) const override;
    bool IsPooling2dSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                              const armnn::Pooling2dDescriptor& descriptor, Reason reason) const override;
    bool IsPreCompiledSupported(const armnn::TensorInfo& input, const armnn::PreCompiledDescriptor& descriptor,
                                Reason reason) const override;
    bool IsQuantizeSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                             Reason reason) const override;
    bool IsReshapeSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                            const armnn::ReshapeDescriptor& descriptor, Reason reason) const override;
    bool IsSoftmaxSupported(const armnn::TensorInfo& input, const armnn::TensorInfo& output,
                            const armnn::SoftmaxDescriptor& descriptor, Reason reason) const override;
};

} // namespace apu_armnn
