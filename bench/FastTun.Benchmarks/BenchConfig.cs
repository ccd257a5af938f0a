using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace FastTun.Benchmarks;

/// <summary>
/// Shared benchmark configuration. BenchmarkDotNet 0.14 (the newest on the mirror here) predates .NET 10 and
/// cannot generate a net10.0 child project, so benchmarks run in-process (InProcessEmitToolchain): the same
/// JIT and GC as the host, with the usual pilot/warmup/measurement stages.
/// </summary>
public sealed class BenchConfig : ManualConfig
{
    public BenchConfig()
    {
        AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance));
        AddDiagnoser(MemoryDiagnoser.Default);
        Add(DefaultConfig.Instance);
        WithOptions(ConfigOptions.DisableOptimizationsValidator | ConfigOptions.JoinSummary);
    }
}
