using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using Perfolizer.Horology;

namespace FastTun.Benchmarks;

/// <summary>
/// Shared benchmark configuration. BenchmarkDotNet 0.15.8 builds a net10.0 child project and runs every
/// benchmark out of process (its default toolchain), so one benchmark's JIT state, GC heap and tiering never
/// leak into the next one.
/// </summary>
public sealed class BenchConfig : ManualConfig
{
    public BenchConfig()
    {
        // Bounded runs (3 warmups, 7 measured iterations of 250 ms): a full `make bench` takes minutes, and medians
        // of 7 are steadier than means of many on this shared 2-core machine.
        AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(7).WithIterationTime(TimeInterval.FromMilliseconds(250)));
        AddDiagnoser(MemoryDiagnoser.Default);
        Add(DefaultConfig.Instance);
        WithOptions(ConfigOptions.DisableOptimizationsValidator | ConfigOptions.JoinSummary);
    }
}
