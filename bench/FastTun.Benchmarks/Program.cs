using BenchmarkDotNet.Running;

// Hidden end-to-end commands for bench/e2e/reflector.sh; everything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] is "reflect" or "generate")
    return FastTun.Benchmarks.Reflector.Run(args);

BenchmarkSwitcher.FromAssembly(typeof(FastTun.Benchmarks.BenchConfig).Assembly).Run(args, new FastTun.Benchmarks.BenchConfig());
return 0;
