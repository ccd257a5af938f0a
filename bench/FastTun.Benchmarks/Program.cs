using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(FastTun.Benchmarks.BenchConfig).Assembly).Run(args, new FastTun.Benchmarks.BenchConfig());
