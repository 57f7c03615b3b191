// SPDX-License-Identifier: MIT
//
// ApuNpu: the backend, its runtime context and options, and the
// optimizer's hook that turns a subgraph into one pre-compiled layer.
//
#include "ApuBackend.hpp"
#include "ApuGraphBuilder.hpp"
#include "ApuLayerSupport.hpp"
#include "ApuWorkloadFactory.hpp"

#include <Graph.hpp>
#include <Layer.hpp>
#include <SubgraphView.hpp>
#include <layers/PreCompiledLayer.hpp>

#include <armnn/Exceptions.hpp>
#include <armnn/LayerVisitorBase.hpp>
#include <armnn/Logging.hpp>
#include <armnn/backends/IBackendContext.hpp>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

namespace apu_armnn
{

const armnn::BackendId& ApuBackendId()
{
    static const armnn::BackendId id{ BackendIdString() };
    return id;
}

// ---- options and devices ----------------------------------------------------

namespace
{

apu_policy PolicyOf(const std::string& s)
{
    if (s == "performance")
        return APU_POLICY_PERFORMANCE;
    if (s == "balanced")
        return APU_POLICY_BALANCED;
    if (s == "low-power")
        return APU_POLICY_LOW_POWER;
    if (s == "deadline")
        return APU_POLICY_DEADLINE;
    throw armnn::InvalidArgumentException("ApuNpu: unknown policy '" + s +
                                          "' (performance, balanced, low-power, deadline)");
}

long IntOf(const std::string& name, const std::string& s)
{
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(s.c_str(), &end, 0);
    if (s.empty() || *end || errno || v < 0 || v > 0x7fffffff)
    {
        throw armnn::InvalidArgumentException("ApuNpu: option " + name + ": '" + s + "' is not a number");
    }
    return v;
}

void Set(Options& o, const std::string& name, const std::string& value)
{
    if (name == "Device")
        o.device = value;
    else if (name == "Policy")
        o.compile.policy = PolicyOf(value);
    else if (name == "CoreMask")
        o.compile.core_mask = static_cast<unsigned int>(IntOf(name, value));
    else if (name == "DeadlineUs")
    {
        char* end = nullptr;
        o.compile.deadline_us = std::strtod(value.c_str(), &end);
        if (value.empty() || *end || !(o.compile.deadline_us > 0) || std::isinf(o.compile.deadline_us))
            throw armnn::InvalidArgumentException("ApuNpu: option DeadlineUs: '" + value +
                                                  "' is not a positive number");
    }
    else if (name == "Priority")
        o.compile.priority = static_cast<unsigned int>(IntOf(name, value));
    else
        throw armnn::InvalidArgumentException("ApuNpu: unknown backend option '" + name + "'");
}

std::string Text(const armnn::BackendOptions::Var& v)
{
    if (v.IsString())
        return v.AsString();
    if (v.IsInt())
        return std::to_string(v.AsInt());
    if (v.IsFloat())
        return std::to_string(v.AsFloat());
    return v.AsBool() ? "1" : "0";
}

} // namespace

Options Options::Parse(const std::vector<armnn::BackendOptions>& opts)
{
    Options o;
    o.compile.priority = 1;
    static const char* const env[][2] = {
        { "Device", "APU_ARMNN_DEVICE" },     { "Policy", "APU_ARMNN_POLICY" },
        { "CoreMask", "APU_ARMNN_CORE_MASK" }, { "DeadlineUs", "APU_ARMNN_DEADLINE_US" },
        { "Priority", "APU_ARMNN_PRIORITY" },
    };
    for (const auto& e : env)
    {
        const char* v = std::getenv(e[1]);
        if (v && *v)
            Set(o, e[0], v);
    }
    for (const auto& bo : opts)
    {
        if (bo.GetBackendId() != ApuBackendId())
            continue;
        for (size_t i = 0; i < bo.GetOptionCount(); i++)
            Set(o, bo.GetOption(i).GetName(), Text(bo.GetOption(i).GetValue()));
    }
    return o;
}

std::shared_ptr<Device> OpenDevice(const Options& o)
{
    apu_device* dev = nullptr;
    int ret;

    if (o.device == "cpu")
        ret = apu_device_open_cpu(&dev);
    else if (!o.device.empty() && o.device[0] == '/')
        ret = apu_device_open(o.device.c_str(), &dev);
    else
        ret = apu_device_open_index(static_cast<unsigned int>(IntOf("Device", o.device)), &dev);
    if (ret)
    {
        throw armnn::BackendUnavailableException("ApuNpu: cannot open APU '" + o.device + "': " +
                                                 apu_strerror(ret));
    }
    return std::make_shared<Device>(dev);
}

apu_device* ValidationDevice()
{
    static std::once_flag once;
    static apu_device* dev;

    std::call_once(once, [] {
        if (apu_device_open_cpu(&dev))
            dev = nullptr;
    });
    return dev;
}

bool Builds(apu_graph* g, std::string& why)
{
    char err[256] = "";
    apu_model* m = nullptr;
    apu_device* dev = ValidationDevice();

    if (!dev)
    {
        why = "no CPU backend to check the layer with";
        return false;
    }
    int ret = apu_model_create(dev, g, &m, err, sizeof(err));
    apu_model_destroy(m);
    if (ret)
    {
        why = err[0] ? err : apu_strerror(ret);
        return false;
    }
    return true;
}

// ---- the runtime context ------------------------------------------------------

namespace
{

// The state of the runtime whose LoadNetwork() runs on this thread.
thread_local std::shared_ptr<RuntimeState>* t_Loading;

class Context : public armnn::IBackendContext
{
public:
    Context(const armnn::IRuntime::CreationOptions& options, std::shared_ptr<RuntimeState> state)
        : armnn::IBackendContext(options), m_State(std::move(state))
    {
    }
    ~Context() override
    {
        if (t_Loading == &m_State)
            t_Loading = nullptr;
    }
    bool BeforeLoadNetwork(armnn::NetworkId) override
    {
        t_Loading = &m_State;
        return true;
    }
    bool AfterLoadNetwork(armnn::NetworkId) override
    {
        t_Loading = nullptr;
        return true;
    }
    bool BeforeUnloadNetwork(armnn::NetworkId) override { return true; }
    bool AfterUnloadNetwork(armnn::NetworkId) override { return true; }

private:
    std::shared_ptr<RuntimeState> m_State;
};

// Arm NN 20.08 keeps a dynamic backend among the supported ones even when
// its context reports BackendUnavailableException: the latest runtime's
// verdict is kept here, and the per-layer check refuses every layer while
// the device is unavailable, so that Arm NN plans without the backend.
std::mutex g_Mutex;
std::string g_Unavailable;			// why, or empty
std::weak_ptr<RuntimeState> g_Latest;		// the latest runtime's state

void SetAvailability(const std::shared_ptr<RuntimeState>& state, const std::string& why)
{
    std::lock_guard<std::mutex> lock(g_Mutex);
    g_Unavailable = why;
    g_Latest = state;
}

} // namespace

bool Available(std::string& why)
{
    std::lock_guard<std::mutex> lock(g_Mutex);
    why = g_Unavailable;
    return why.empty();
}

std::shared_ptr<RuntimeState> CurrentState()
{
    if (t_Loading && *t_Loading)
        return *t_Loading;
    {
        std::lock_guard<std::mutex> lock(g_Mutex);
        if (auto s = g_Latest.lock())
            return s;
    }
    auto s = std::make_shared<RuntimeState>();
    s->options = Options::Parse({});
    s->device = OpenDevice(s->options);
    return s;
}

// ---- the backend --------------------------------------------------------------

armnn::IBackendInternal::IMemoryManagerUniquePtr ApuBackend::CreateMemoryManager() const
{
    return IMemoryManagerUniquePtr{};
}

armnn::IBackendInternal::IWorkloadFactoryPtr
ApuBackend::CreateWorkloadFactory(const IMemoryManagerSharedPtr&) const
{
    return std::make_unique<WorkloadFactory>(CurrentState());
}

armnn::IBackendInternal::IBackendContextPtr
ApuBackend::CreateBackendContext(const armnn::IRuntime::CreationOptions& options) const
{
    auto s = std::make_shared<RuntimeState>();
    try
    {
        s->options = Options::Parse(options.m_BackendOptions);
        s->device = OpenDevice(s->options);
    }
    catch (const armnn::Exception& e)
    {
        // A bad option or no APU: the runtime goes on without the backend
        // (the only exception Arm NN expects from here).
        ARMNN_LOG(error) << e.what() << "; the backend steps aside";
        SetAvailability(nullptr, e.what());
        throw armnn::BackendUnavailableException(e.what());
    }
    SetAvailability(s, "");
    return std::make_unique<Context>(options, s);
}

armnn::IBackendInternal::IBackendProfilingContextPtr
ApuBackend::CreateBackendProfilingContext(const armnn::IRuntime::CreationOptions&, IBackendProfilingPtr&)
{
    return IBackendProfilingContextPtr{};
}

armnn::IBackendInternal::ILayerSupportSharedPtr ApuBackend::GetLayerSupport() const
{
    static ILayerSupportSharedPtr support{ new LayerSupport };
    return support;
}

namespace
{

// One layer of a subgraph into the builder, through Arm NN's public
// visitor (descriptors and constant tensors as the network holds them).
class Translator : public armnn::LayerVisitorBase<armnn::VisitorThrowingPolicy>
{
public:
    explicit Translator(GraphBuilder& b) : m_B(b) {}

    void Input(const armnn::IInputSlot* slot, int tensor) { m_In[slot] = tensor; }
    int Produced(const armnn::IOutputSlot* slot) const
    {
        auto it = m_Out.find(slot);
        if (it == m_Out.end())
            throw Unsupported("a subgraph output that no layer of it computes");
        return it->second;
    }

    void VisitConvolution2dLayer(const armnn::IConnectableLayer* l, const armnn::Convolution2dDescriptor& d,
                                 const armnn::ConstTensor& w, const armnn::Optional<armnn::ConstTensor>& b,
                                 const char* name) override
    {
        Done(l, m_B.Convolution2d(In(l, 0), OutInfo(l), d, w, b, Name(l, name)));
    }
    void VisitDepthwiseConvolution2dLayer(const armnn::IConnectableLayer* l,
                                          const armnn::DepthwiseConvolution2dDescriptor& d,
                                          const armnn::ConstTensor& w,
                                          const armnn::Optional<armnn::ConstTensor>& b, const char* name) override
    {
        Done(l, m_B.DepthwiseConvolution2d(In(l, 0), InInfo(l, 0), OutInfo(l), d, w, b, Name(l, name)));
    }
    void VisitFullyConnectedLayer(const armnn::IConnectableLayer* l, const armnn::FullyConnectedDescriptor& d,
                                  const armnn::ConstTensor& w, const armnn::Optional<armnn::ConstTensor>& b,
                                  const char* name) override
    {
        Done(l, m_B.FullyConnected(In(l, 0), OutInfo(l), d, w, b, Name(l, name)));
    }
    void VisitPooling2dLayer(const armnn::IConnectableLayer* l, const armnn::Pooling2dDescriptor& d,
                             const char* name) override
    {
        Done(l, m_B.Pooling2d(In(l, 0), OutInfo(l), d, Name(l, name)));
    }
    void VisitActivationLayer(const armnn::IConnectableLayer* l, const armnn::ActivationDescriptor& d,
                              const char* name) override
    {
        Done(l, m_B.Activation(In(l, 0), OutInfo(l), d, Name(l, name)));
    }
    void VisitAdditionLayer(const armnn::IConnectableLayer* l, const char* name) override
    {
        Done(l, m_B.Elementwise(APU_GRAPH_ADD, In(l, 0), In(l, 1), OutInfo(l), Name(l, name)));
    }
    void VisitMultiplicationLayer(const armnn::IConnectableLayer* l, const char* name) override
    {
        Done(l, m_B.Elementwise(APU_GRAPH_MUL, In(l, 0), In(l, 1), OutInfo(l), Name(l, name)));
    }
    void VisitMeanLayer(const armnn::IConnectableLayer* l, const armnn::MeanDescriptor& d, const char* name) override
    {
        Done(l, m_B.Mean(In(l, 0), OutInfo(l), d, Name(l, name)));
    }
    void VisitConcatLayer(const armnn::IConnectableLayer* l, const armnn::OriginsDescriptor& d,
                          const char* name) override
    {
        std::vector<int> in;
        for (unsigned int i = 0; i < l->GetNumInputSlots(); i++)
            in.push_back(In(l, i));
        Done(l, m_B.Concat(in, OutInfo(l), d, Name(l, name)));
    }
    void VisitPadLayer(const armnn::IConnectableLayer* l, const armnn::PadDescriptor& d, const char* name) override
    {
        Done(l, m_B.Pad(In(l, 0), OutInfo(l), d, Name(l, name)));
    }
    void VisitSoftmaxLayer(const armnn::IConnectableLayer* l, const armnn::SoftmaxDescriptor& d,
                           const char* name) override
    {
        Done(l, m_B.Softmax(In(l, 0), InInfo(l, 0), OutInfo(l), d, Name(l, name)));
    }
    void VisitReshapeLayer(const armnn::IConnectableLayer* l, const armnn::ReshapeDescriptor&,
                           const char* name) override
    {
        Done(l, m_B.Reshape(In(l, 0), OutInfo(l), Name(l, name)));
    }

    void VisitConstantLayer(const armnn::IConnectableLayer* l, const armnn::ConstTensor& t,
                            const char* name) override
    {
        Done(l, m_B.Constant(t, Name(l, name)));
    }
    void VisitQuantizeLayer(const armnn::IConnectableLayer* l, const char* name) override
    {
        Done(l, m_B.Quantize(In(l, 0), OutInfo(l), Name(l, name)));
    }

private:
    static std::string Name(const armnn::IConnectableLayer* l, const char* name)
    {
        return name && *name ? name : "layer " + std::to_string(l->GetGuid());
    }
    int In(const armnn::IConnectableLayer* l, unsigned int i) const
    {
        const armnn::IInputSlot* s = &l->GetInputSlot(i);
        auto it = m_In.find(s);
        return it != m_In.end() ? it->second : Produced(s->GetConnection());
    }
    static const armnn::TensorInfo& InInfo(const armnn::IConnectableLayer* l, unsigned int i)
    {
        return l->GetInputSlot(i).GetConnection()->GetTensorInfo();
    }
    static const armnn::TensorInfo& OutInfo(const armnn::IConnectableLayer* l)
    {
        if (l->GetNumOutputSlots() != 1)
            throw Unsupported("a layer of " + std::to_string(l->GetNumOutputSlots()) + " outputs");
        return l->GetOutputSlot(0).GetTensorInfo();
    }
    void Done(const armnn::IConnectableLayer* l, int tensor) { m_Out[&l->GetOutputSlot(0)] = tensor; }

    GraphBuilder& m_B;
    std::map<const armnn::IInputSlot*, int> m_In;
    std::map<const armnn::IOutputSlot*, int> m_Out;
};

// The layers of @sg, each after the layers inside @sg that it reads.
std::vector<armnn::Layer*> InOrder(const armnn::SubgraphView& sg)
{
    std::set<const armnn::Layer*> inside, done;
    std::vector<armnn::Layer*> order, todo(sg.GetLayers().begin(), sg.GetLayers().end());

    for (armnn::Layer* l : todo)
        inside.insert(l);
    while (!todo.empty())
    {
        std::vector<armnn::Layer*> later;
        for (armnn::Layer* l : todo)
        {
            bool ready = true;
            for (unsigned int i = 0; i < l->GetNumInputSlots() && ready; i++)
            {
                const armnn::OutputSlot* src = l->GetInputSlot(i).GetConnectedOutputSlot();
                const armnn::Layer* p = src ? &src->GetOwningLayer() : nullptr;
                ready = !p || !inside.count(p) || done.count(p);
            }
            if (ready)
            {
                order.push_back(l);
                done.insert(l);
            }
            else
            {
                later.push_back(l);
            }
        }
        if (later.size() == todo.size())
            throw Unsupported("a subgraph with a cycle");
        todo.swap(later);
    }
    return order;
}

} // namespace

// What a pre-compiled layer holds: the graph, built on a device at load.
struct Compiled
{
    apu_graph* graph = nullptr;
    ~Compiled() { apu_graph_destroy(graph); }
};

apu_graph* CompiledGraph(const void* compiled)
{
    return static_cast<const Compiled*>(compiled)->graph;
}

armnn::OptimizationViews ApuBackend::OptimizeSubgraphView(const armnn::SubgraphView& subgraph) const
{
    armnn::OptimizationViews views;
    auto compiled = std::make_unique<Compiled>();

    try
    {
        GraphBuilder b;
        Translator t(b);
        std::vector<int> in, out;

        for (armnn::InputSlot* s : subgraph.GetInputSlots())
        {
            int k = b.Tensor(s->GetConnectedOutputSlot()->GetTensorInfo(),
                             "input " + std::to_string(in.size()));
            t.Input(s, k);
            in.push_back(k);
        }
        for (armnn::Layer* l : InOrder(subgraph))
            l->Accept(t);
        for (armnn::OutputSlot* s : subgraph.GetOutputSlots())
            out.push_back(t.Produced(s));
        b.SetInputs(in);
        b.SetOutputs(out);
        std::string why;
        if (!Builds(b.Get(), why))
            throw Unsupported(why);
        compiled->graph = b.Release();
    }
    catch (const std::exception& e)
    {
        // Every layer here passed the per-layer check: a subgraph refused as a
        // whole goes to the next backend as a whole.
        ARMNN_LOG(warning) << "ApuNpu: a subgraph of " << subgraph.GetLayers().size()
                           << " layers falls back: " << e.what();
        views.AddFailedSubgraph(armnn::SubgraphView(subgraph));
        return views;
    }

    const unsigned int nin = static_cast<unsigned int>(subgraph.GetInputSlots().size());
    const unsigned int nout = static_cast<unsigned int>(subgraph.GetOutputSlots().size());
    // Named after its layers: "ApuNpu[Conv2D:0:0 .. Conv2D:0:7, 12 layers]".
    std::vector<armnn::Layer*> order = InOrder(subgraph);
    std::string name = std::string("ApuNpu[") + order.front()->GetName();
    if (order.size() > 1)
        name += std::string(" .. ") + order.back()->GetName();
    name += ", " + std::to_string(order.size()) + (order.size() > 1 ? " layers]" : " layer]");
    armnn::PreCompiledLayer* pl =
        views.GetGraph().AddLayer<armnn::PreCompiledLayer>(armnn::PreCompiledDescriptor(nin, nout), name.c_str());
    pl->SetBackendId(ApuBackendId());
    for (unsigned int i = 0; i < nout; i++)
        pl->GetOutputSlot(i).SetTensorInfo(subgraph.GetOutputSlots()[i]->GetTensorInfo());
    pl->SetPreCompiledObject(std::unique_ptr<void, std::function<void(const void*)>>(
        compiled.release(), [](const void* p) { delete static_cast<const Compiled*>(p); }));
    views.AddSubstitution({ armnn::SubgraphView(subgraph), armnn::SubgraphView(pl) });
    return views;
}

} // namespace apu_armnn

// ---- dynamic backend entry points ---------------------------------------------

const char* GetBackendId()
{
    return apu_armnn::BackendIdString();
}

void GetVersion(uint32_t* outMajor, uint32_t* outMinor)
{
    if (!outMajor || !outMinor)
        return;
    const armnn::BackendVersion v = armnn::IBackendInternal::GetApiVersion();
    *outMajor = v.m_Major;
    *outMinor = v.m_Minor;
}

void* BackendFactory()
{
    return new apu_armnn::ApuBackend();
}
