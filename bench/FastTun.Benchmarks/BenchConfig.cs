using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

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
        // Bounded runs (3 warmups, 7 measured iterations of 250 ms): a full `make bench` takes minutes, and medians
        // of 7 are steadier than means of many on this shared 2-core machine.
        AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
            .WithWarmupCount(3).WithIterationCount(7).WithIterationTime(TimeInterval.FromMilliseconds(250)));
        AddDiagnoser(MemoryDiagnoser.Default);
        Add(DefaultConfig.Instance);
        WithOptions(ConfigOptions.DisableOptimizationsValidator | ConfigOptions.JoinSummary);
    }
}
