// SPDX-License-Identifier: MIT
//
// ApuNpu's workloads (see ApuWorkloadFactory.hpp).
//
#include "ApuWorkloadFactory.hpp"

#include <armnn/Exceptions.hpp>
#include <backendsCommon/CpuTensorHandle.hpp>
#include <backendsCommon/MemCopyWorkload.hpp>
#include <backendsCommon/MemImportWorkload.hpp>
#include <backendsCommon/Workload.hpp>

#include <apu/apu_model.h>

namespace apu_armnn
{

namespace
{

// One pre-compiled layer: a libapu model on the runtime's device.
class PreCompiledWorkload : public armnn::BaseWorkload<armnn::PreCompiledQueueDescriptor>
{
public:
    PreCompiledWorkload(const armnn::PreCompiledQueueDescriptor& d, const armnn::WorkloadInfo& info,
                        std::shared_ptr<Device> device, const apu_compile_options& opts)
        : BaseWorkload(d, info), m_Device(std::move(device))
    {
        char err[256] = "";
        int ret = apu_model_create(m_Device->Get(), CompiledGraph(d.m_PreCompiledObject), &m_Model, err,
                                   sizeof(err));
        if (ret)
            throw armnn::Exception(std::string("ApuNpu: building the model: ") + (err[0] ? err : apu_strerror(ret)));
        ret = apu_model_compile(m_Model, &opts, sizeof(opts));
        if (ret)
        {
            apu_model_destroy(m_Model);
            throw armnn::Exception(std::string("ApuNpu: compiling the model: ") + apu_strerror(ret));
        }
        if (apu_model_num_inputs(m_Model) != static_cast<int>(d.m_Inputs.size()) ||
            apu_model_num_outputs(m_Model) != static_cast<int>(d.m_Outputs.size()))
        {
            apu_model_destroy(m_Model);
            throw armnn::Exception("ApuNpu: the model's inputs and outputs differ from the layer's");
        }
    }
    ~PreCompiledWorkload() override { apu_model_destroy(m_Model); }

    void Execute() const override
    {
        for (size_t i = 0; i < m_Data.m_Inputs.size(); i++)
        {
            armnn::ITensorHandle* h = m_Data.m_Inputs[i];
            const void* p = h->Map(true);
            int ret = apu_model_set_input(m_Model, static_cast<int>(i), p, h->GetShape().GetNumElements());
            h->Unmap();
            Check(ret, "setting an input");
        }
        Check(apu_model_run(m_Model, nullptr), "running");
        for (size_t i = 0; i < m_Data.m_Outputs.size(); i++)
        {
            armnn::ITensorHandle* h = m_Data.m_Outputs[i];
            void* p = h->Map(true);
            int ret = apu_model_get_output(m_Model, static_cast<int>(i), p, h->GetShape().GetNumElements());
            h->Unmap();
            Check(ret, "reading an output");
        }
    }

private:
    static void Check(int ret, const char* what)
    {
        if (ret)
            throw armnn::RuntimeException(std::string("ApuNpu: ") + what + ": " + apu_strerror(ret));
    }

    std::shared_ptr<Device> m_Device;	// outlives the model
    apu_model* m_Model = nullptr;
};

} // namespace

std::unique_ptr<armnn::ITensorHandle> WorkloadFactory::CreateTensorHandle(const armnn::TensorInfo& info,
                                                                          const bool) const
{
    return std::make_unique<armnn::ScopedCpuTensorHandle>(info);
}

std::unique_ptr<armnn::ITensorHandle> WorkloadFactory::CreateTensorHandle(const armnn::TensorInfo& info,
                                                                          armnn::DataLayout, const bool) const
{
    return std::make_unique<armnn::ScopedCpuTensorHandle>(info);
}

std::unique_ptr<armnn::IWorkload> WorkloadFactory::CreateInput(const armnn::InputQueueDescriptor& d,
                                                               const armnn::WorkloadInfo& info) const
{
    return std::make_unique<armnn::CopyMemGenericWorkload>(d, info);
}

std::unique_ptr<armnn::IWorkload> WorkloadFactory::CreateOutput(const armnn::OutputQueueDescriptor& d,
                                                                const armnn::WorkloadInfo& info) const
{
    return std::make_unique<armnn::CopyMemGenericWorkload>(d, info);
}

std::unique_ptr<armnn::IWorkload> WorkloadFactory::CreateMemCopy(const armnn::MemCopyQueueDescriptor& d,
                                                                 const armnn::WorkloadInfo& info) const
{
    return std::make_unique<armnn::CopyMemGenericWorkload>(d, info);
}

std::unique_ptr<armnn::IWorkload> WorkloadFactory::CreateMemImport(const armnn::MemImportQueueDescriptor& d,
                                                                   const armnn::WorkloadInfo& info) const
{
    return std::make_unique<armnn::ImportMemGenericWorkload>(d, info);
}

std::unique_ptr<armnn::IWorkload> WorkloadFactory::CreatePreCompiled(const armnn::PreCompiledQueueDescriptor& d,
                                                                     const armnn::WorkloadInfo& info) const
{
    return std::make_unique<PreCompiledWorkload>(d, info, m_State->device, m_State->options.compile);
}

} // namespace apu_armnn
