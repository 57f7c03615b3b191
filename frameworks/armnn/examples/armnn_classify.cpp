// SPDX-License-Identifier: MIT
//
// Run a TFLite model through Arm NN with the APU first in line:
//
//   armnn_classify MODEL.tflite INPUT.bin [options]
//     --backends ApuNpu,CpuRef   backend preference order (default)
//     --backend-path DIR         where Arm NN looks for dynamic backends
//                                (default: $ARMNN_BACKEND_PATH)
//     --option NAME=VALUE        an ApuNpu backend option (Device, Policy, CoreMask,
//                                DeadlineUs, Priority); repeatable
//     --labels FILE --top N      print the N best classes with their labels
//     --save-output FILE         write output 0's bytes
//     --dot FILE                 write the optimized network (Graphviz)
//     --repeat N                 run N times, report the median time
//
// INPUT.bin holds input 0's bytes (apu-run --save-input writes them from a
// photo). It prints where each layer ran and the share of the network's
// multiply-accumulates that the APU took. The example of docs/frameworks.md;
// the tests run it.
//
#include <armnn/ArmNN.hpp>
#include <armnn/BackendRegistry.hpp>
#include <armnn/LayerVisitorBase.hpp>
#include <armnnTfLiteParser/ITfLiteParser.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace
{

// Multiply-accumulates of each convolution and fully connected layer, by name.
class MacCounter : public armnn::LayerVisitorBase<armnn::VisitorNoThrowPolicy>
{
public:
    std::map<std::string, uint64_t> macs;

    void VisitConvolution2dLayer(const armnn::IConnectableLayer* l, const armnn::Convolution2dDescriptor&,
                                 const armnn::ConstTensor& w, const armnn::Optional<armnn::ConstTensor>&,
                                 const char* name) override
    {
        // NHWC weights [out][kh][kw][in]: each output value takes kh x kw x in.
        const armnn::TensorShape& s = w.GetShape();
        macs[name] = Outputs(l) * s[1] * s[2] * s[3];
    }
    void VisitDepthwiseConvolution2dLayer(const armnn::IConnectableLayer* l,
                                          const armnn::DepthwiseConvolution2dDescriptor&,
                                          const armnn::ConstTensor& w, const armnn::Optional<armnn::ConstTensor>&,
                                          const char* name) override
    {
        // [M][in][kh][kw]: each output value takes kh x kw.
        const armnn::TensorShape& s = w.GetShape();
        macs[name] = Outputs(l) * s[2] * s[3];
    }
    void VisitFullyConnectedLayer(const armnn::IConnectableLayer*, const armnn::FullyConnectedDescriptor&,
                                  const armnn::ConstTensor& w, const armnn::Optional<armnn::ConstTensor>&,
                                  const char* name) override
    {
        macs[name] = w.GetShape().GetNumElements();
    }

private:
    static uint64_t Outputs(const armnn::IConnectableLayer* l)
    {
        return l->GetOutputSlot(0).GetTensorInfo().GetNumElements();
    }
};

// Each layer of the optimized network's dot: name, type, backend.
struct Placed
{
    std::string name, type, backend;
};

std::vector<Placed> Placement(const std::string& dot)
{
    std::vector<Placed> out;
    std::regex node(R"(LayerName : ([^\\]*)\\lLayerType : ([^\\]*)\\lBackendID : ([^\\]*)\\l)");
    for (auto it = std::sregex_iterator(dot.begin(), dot.end(), node); it != std::sregex_iterator(); ++it)
        out.push_back({ (*it)[1], (*it)[2], (*it)[3] });
    return out;
}

std::vector<char> ReadFile(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f)
        throw std::runtime_error("cannot read " + path);
    return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

std::vector<armnn::BackendId> Split(const std::string& s)
{
    std::vector<armnn::BackendId> v;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        v.emplace_back(item);
    return v;
}

int Run(int argc, char** argv)
{
    std::string model, input, backends = "ApuNpu,CpuRef", labelsPath, savePath, dotPath;
    const char* envPath = std::getenv("ARMNN_BACKEND_PATH");
    std::string backendPath = envPath ? envPath : "";
    armnn::BackendOptions apuOptions("ApuNpu");
    int top = 5, repeat = 1;

    for (int i = 1; i < argc; i++)
    {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc)
                throw std::runtime_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--backends")
            backends = next();
        else if (a == "--backend-path")
            backendPath = next();
        else if (a == "--labels")
            labelsPath = next();
        else if (a == "--top")
            top = std::atoi(next().c_str());
        else if (a == "--save-output")
            savePath = next();
        else if (a == "--dot")
            dotPath = next();
        else if (a == "--repeat")
            repeat = std::max(1, std::atoi(next().c_str()));
        else if (a == "--option")
        {
            std::string kv = next();
            size_t eq = kv.find('=');
            if (eq == std::string::npos)
                throw std::runtime_error("--option takes NAME=VALUE");
            apuOptions.AddOption({ kv.substr(0, eq), kv.substr(eq + 1) });
        }
        else if (model.empty())
            model = a;
        else if (input.empty())
            input = a;
        else
            throw std::runtime_error("unexpected argument " + a);
    }
    if (model.empty() || input.empty())
    {
        std::cerr << "usage: armnn_classify MODEL.tflite INPUT.bin [--backends A,B] [--backend-path DIR]\n"
                     "       [--option NAME=VALUE] [--labels FILE] [--top N] [--save-output FILE]\n"
                     "       [--dot FILE] [--repeat N]\n";
        return 2;
    }
    armnn::ConfigureLogging(true, false, armnn::LogSeverity::Warning);

    // 1. Arm NN's own TFLite parser reads the model.
    auto parser = armnnTfLiteParser::ITfLiteParser::Create();
    armnn::INetworkPtr network = parser->CreateNetworkFromBinaryFile(model.c_str());
    auto inName = parser->GetSubgraphInputTensorNames(0).at(0);
    auto outName = parser->GetSubgraphOutputTensorNames(0).at(0);
    auto inBinding = parser->GetNetworkInputBindingInfo(0, inName);
    auto outBinding = parser->GetNetworkOutputBindingInfo(0, outName);
    MacCounter counter;
    network->Accept(counter);

    // 2. A runtime that loads the dynamic backends (ApuNpu among them).
    armnn::IRuntime::CreationOptions options;
    options.m_DynamicBackendsPath = backendPath;
    if (apuOptions.GetOptionCount())
        options.m_BackendOptions.push_back(apuOptions);
    armnn::IRuntimePtr runtime = armnn::IRuntime::Create(options);

    // 3. Optimize: ApuNpu claims the layers it runs, the rest falls back.
    std::vector<std::string> messages;
    armnn::IOptimizedNetworkPtr optimized = armnn::Optimize(
        *network, Split(backends), runtime->GetDeviceSpec(), armnn::OptimizerOptions(),
        armnn::Optional<std::vector<std::string>&>(messages));
    if (!optimized)
    {
        for (auto& m : messages)
            std::cerr << m << "\n";
        throw std::runtime_error("Arm NN could not optimize the network for " + backends);
    }
    std::stringstream dot;
    optimized->SerializeToDot(dot);
    if (!dotPath.empty())
        std::ofstream(dotPath) << dot.str();

    // Where the layers went; the APU took what is no longer there.
    std::map<std::string, int> perBackend;
    std::map<std::string, std::string> backendOf;
    for (auto& p : Placement(dot.str()))
    {
        if (p.type != "Input" && p.type != "Output" && p.type != "MemCopy")
            perBackend[p.backend + " " + p.type]++;
        backendOf[p.name] = p.backend;
    }
    uint64_t total = 0, apu = 0;
    std::vector<std::string> cpuConv;
    for (auto& m : counter.macs)
    {
        total += m.second;
        auto it = backendOf.find(m.first);
        if (it == backendOf.end() || it->second == "ApuNpu")
            apu += m.second;
        else
            cpuConv.push_back(m.first + " on " + it->second);
    }
    std::cout << "layers:";
    for (auto& b : perBackend)
        std::cout << " [" << b.first << " x" << b.second << "]";
    std::cout << "\nmacs: " << total << " in convolutions and fully connected layers, " << apu
              << " on ApuNpu (" << (total ? 100.0 * static_cast<double>(apu) / static_cast<double>(total) : 0.0)
              << "%)\n";
    for (auto& c : cpuConv)
        std::cout << "not on the APU: " << c << "\n";

    // 4. Load and run.
    armnn::NetworkId id;
    std::string err;
    if (runtime->LoadNetwork(id, std::move(optimized), err) != armnn::Status::Success)
        throw std::runtime_error("LoadNetwork: " + err);
    std::vector<char> in = ReadFile(input);
    if (in.size() != inBinding.second.GetNumBytes())
        throw std::runtime_error(input + ": " + std::to_string(in.size()) + " bytes, the input takes " +
                                 std::to_string(inBinding.second.GetNumBytes()));
    std::vector<uint8_t> out(outBinding.second.GetNumBytes());
    armnn::InputTensors inputs{ { inBinding.first, armnn::ConstTensor(inBinding.second, in.data()) } };
    armnn::OutputTensors outputs{ { outBinding.first, armnn::Tensor(outBinding.second, out.data()) } };
    std::vector<double> ms;
    for (int r = 0; r < repeat; r++)
    {
        auto t0 = std::chrono::steady_clock::now();
        if (runtime->EnqueueWorkload(id, inputs, outputs) != armnn::Status::Success)
            throw std::runtime_error("EnqueueWorkload failed");
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    std::cout << "inference: " << ms[ms.size() / 2] << " ms (median of " << repeat << ")\n";
    if (!savePath.empty())
        std::ofstream(savePath, std::ios::binary).write(reinterpret_cast<const char*>(out.data()),
                                                         static_cast<std::streamsize>(out.size()));

    // 5. The best classes: dequantized scores.
    const armnn::TensorInfo& oi = outBinding.second;
    std::vector<std::pair<float, size_t>> scores;
    for (size_t k = 0; k < oi.GetNumElements(); k++)
    {
        int q = oi.GetDataType() == armnn::DataType::QAsymmS8 ? static_cast<int8_t>(out[k]) : out[k];
        scores.push_back({ (static_cast<float>(q) - static_cast<float>(oi.GetQuantizationOffset())) *
                               oi.GetQuantizationScale(), k });
    }
    std::vector<std::string> labels;
    if (!labelsPath.empty())
    {
        std::ifstream lf(labelsPath);
        for (std::string line; std::getline(lf, line);)
            labels.push_back(line);
    }
    top = std::min<int>(top, static_cast<int>(scores.size()));
    std::partial_sort(scores.begin(), scores.begin() + top, scores.end(),
                      [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    for (int k = 0; k < top; k++)
        std::cout << "top " << k + 1 << ": class " << scores[k].second << " score " << scores[k].first
                  << (scores[k].second < labels.size() ? " " + labels[scores[k].second] : "") << "\n";
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    try
    {
        return Run(argc, argv);
    }
    catch (const std::exception& e)
    {
        std::cerr << "armnn_classify: " << e.what() << "\n";
        return 1;
    }
}
