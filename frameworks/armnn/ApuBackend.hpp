// SPDX-License-Identifier: MIT
//
// ApuNpu: an Arm NN dynamic backend that runs the layers of a network it can
// take on the APU through libapu (docs/frameworks.md).
//
// The optimizer offers each subgraph of layers assigned to ApuNpu; the
// backend turns it into one pre-compiled layer holding a libapu graph
// (apu/apu_graph.h). Loading the network builds and compiles that graph on
// the device the runtime's backend options name; running it is one
// apu_model_run(). Layers libapu refuses are reported unsupported at
// assignment, so Arm NN gives them to the next backend (CpuRef).
//
#pragma once

#include <armnn/BackendId.hpp>
#include <armnn/IRuntime.hpp>
#include <armnn/backends/IBackendInternal.hpp>

#include <apu/apu.h>
#include <apu/apu_graph.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace apu_armnn
{

constexpr const char* BackendIdString() { return "ApuNpu"; }
const armnn::BackendId& ApuBackendId();

// An opened device, closed when its last user goes.
class Device
{
public:
    explicit Device(apu_device* dev) : m_Dev(dev) {}
    ~Device() { apu_device_close(m_Dev); }
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;
    apu_device* Get() const { return m_Dev; }

private:
    apu_device* m_Dev;
};

// Backend options (IRuntime::CreationOptions::m_BackendOptions for
// "ApuNpu"), each defaulting to an environment variable for front ends that
// cannot pass them (pyarmnn 20.08):
//   Device    "cpu", an index ("0") or a node ("/dev/accel/accel0")  APU_ARMNN_DEVICE
//   Policy    performance | balanced | low-power | deadline           APU_ARMNN_POLICY
//   CoreMask  cores a network may use, bit n core n; 0 all           APU_ARMNN_CORE_MASK
//   DeadlineUs the modeled time to meet with the deadline policy      APU_ARMNN_DEADLINE_US
//   Priority  0 low, 1 normal, 2 high                                 APU_ARMNN_PRIORITY
struct Options
{
    std::string device = "0";
    apu_compile_options compile{};

    // From the environment, then @opts (which win).
    static Options Parse(const std::vector<armnn::BackendOptions>& opts);
};

// What a loaded network's workloads share: the options and the device.
struct RuntimeState
{
    Options options;
    std::shared_ptr<Device> device;
};

// Opens the device @o names; throws armnn::BackendUnavailableException.
std::shared_ptr<Device> OpenDevice(const Options& o);

// The state of the runtime loading a network on this thread (set by the
// backend context around LoadNetwork), or a new one from the environment.
std::shared_ptr<RuntimeState> CurrentState();

// Whether the latest runtime opened its device (@why: why not).
bool Available(std::string& why);

// A device without hardware that checks what libapu can build (the CPU
// backend takes every op the device does).
apu_device* ValidationDevice();

// Whether libapu builds a model from @g; @why gets its message if not.
bool Builds(apu_graph* g, std::string& why);

class ApuBackend : public armnn::IBackendInternal
{
public:
    ApuBackend() = default;
    ~ApuBackend() = default;

    const armnn::BackendId& GetId() const override { return ApuBackendId(); }

    IMemoryManagerUniquePtr CreateMemoryManager() const override;
    IWorkloadFactoryPtr CreateWorkloadFactory(const IMemoryManagerSharedPtr& memoryManager = nullptr) const override;
    IBackendContextPtr CreateBackendContext(const armnn::IRuntime::CreationOptions& options) const override;
    IBackendProfilingContextPtr CreateBackendProfilingContext(const armnn::IRuntime::CreationOptions&,
                                                              IBackendProfilingPtr&) override;
    ILayerSupportSharedPtr GetLayerSupport() const override;
    armnn::OptimizationViews OptimizeSubgraphView(const armnn::SubgraphView& subgraph) const override;
};

} // namespace apu_armnn

// The entry points Arm NN's dynamic backend loader looks up.
extern "C"
{
__attribute__((visibility("default"))) const char* GetBackendId();
__attribute__((visibility("default"))) void GetVersion(uint32_t* outMajor, uint32_t* outMinor);
__attribute__((visibility("default"))) void* BackendFactory();
}
