// SPDX-License-Identifier: MIT
//
// ApuNpu's workloads: a pre-compiled layer becomes a libapu model, built
// and compiled on the runtime's device when the network is loaded; its
// tensors are plain host memory (Arm NN copies at the backend's edges).
//
#pragma once

#include "ApuBackend.hpp"

#include <backendsCommon/WorkloadFactory.hpp>

#include <memory>

namespace apu_armnn
{

// The graph a pre-compiled layer holds (ApuBackend.cpp).
apu_graph* CompiledGraph(const void* compiled);

class WorkloadFactory : public armnn::IWorkloadFactory
{
public:
    explicit WorkloadFactory(std::shared_ptr<RuntimeState> state) : m_State(std::move(state)) {}

    const armnn::BackendId& GetBackendId() const override { return ApuBackendId(); }
    bool SupportsSubTensors() const override { return false; }

    std::unique_ptr<armnn::ITensorHandle> CreateSubTensorHandle(armnn::ITensorHandle&, const armnn::TensorShape&,
                                                                const unsigned int*) const override
    {
        return nullptr;
    }
    std::unique_ptr<armnn::ITensorHandle> CreateTensorHandle(const armnn::TensorInfo& info,
                                                             const bool isMemoryManaged = true) const override;
    std::unique_ptr<armnn::ITensorHandle> CreateTensorHandle(const armnn::TensorInfo& info,
                                                             armnn::DataLayout layout,
                                                             const bool isMemoryManaged = true) const override;

    std::unique_ptr<armnn::IWorkload> CreateInput(const armnn::InputQueueDescriptor& descriptor,
                                                  const armnn::WorkloadInfo& info) const override;
    std::unique_ptr<armnn::IWorkload> CreateOutput(const armnn::OutputQueueDescriptor& descriptor,
                                                   const armnn::WorkloadInfo& info) const override;
    std::unique_ptr<armnn::IWorkload> CreateMemCopy(const armnn::MemCopyQueueDescriptor& descriptor,
                                                    const armnn::WorkloadInfo& info) const override;
    std::unique_ptr<armnn::IWorkload> CreateMemImport(const armnn::MemImportQueueDescriptor& descriptor,
                                                      const armnn::WorkloadInfo& info) const override;
    std::unique_ptr<armnn::IWorkload> CreatePreCompiled(const armnn::PreCompiledQueueDescriptor& descriptor,
                                                        const armnn::WorkloadInfo& info) const override;

private:
    std::shared_ptr<RuntimeState> m_State;
};

} // namespace apu_armnn
