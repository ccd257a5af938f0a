using BenchmarkDotNet.Running;

if (args.Length > 0 && args[0] == "gen-table") return FastTun.Benchmarks.LpmGenTable.Run(args);

BenchmarkSwitcher.FromAssembly(typeof(FastTun.Benchmarks.BenchConfig).Assembly).Run(args, new FastTun.Benchmarks.BenchConfig());
return 0;
