using BenchmarkDotNet.Running;

// Hidden commands first; everything else goes to BenchmarkDotNet.
//   lpm-side             FastTun's side of `make bench-lpm` (LpmSideBySide)
//   lpm-ab               in-process A/B of Lpm4Reader lookup variants (LpmVariants)
//   lpm-stats            where the destinations' lookups end in Lpm4Table's layout (LpmStats)
//   lpm-update           route changes/s with a QSBR reader looking up (LpmUpdateRate)
//   gen-table            synthetic Internet route table and destination files (LpmGenTable)
//   reflect | generate   end-to-end port reflector and generator for bench/e2e/reflector.sh
//   xdp-reflector        AF_XDP reflector and generator for bench/e2e/xdp-reflector.sh
//   hub-ratio [rounds] [--active N]   decap 10,000 vs 1 spoke, interleaved in one process, per-round ratios (HubRatio)
//   hub-memory [N]       managed memory per tunnel of a hub with N IPIP + N GRE spokes (HubBenchmarks)
if (args.Length > 0 && args[0] == "lpm-side") return FastTun.Benchmarks.LpmSideBySide.Run(args);
if (args.Length > 0 && args[0] == "lpm-ab") return FastTun.Benchmarks.LpmVariants.Run(args);
if (args.Length > 0 && args[0] == "lpm-stats") return FastTun.Benchmarks.LpmStats.Run(args);
if (args.Length > 0 && args[0] == "lpm-update") return FastTun.Benchmarks.LpmUpdateRate.Run(args);
if (args.Length > 0 && args[0] == "gen-table") return FastTun.Benchmarks.LpmGenTable.Run(args);
if (args.Length > 0 && args[0] == "xdp-reflector") return FastTun.Benchmarks.XdpReflector.Run(args[1..]);
if (args.Length > 0 && args[0] == "hub-ratio") return FastTun.Benchmarks.HubRatio.Run(args);
if (args.Length > 0 && args[0] == "hub-memory") return FastTun.Benchmarks.HubBenchmarks.MeasureMemory(args);
if (args.Length > 0 && args[0] is "reflect" or "generate") return FastTun.Benchmarks.Reflector.Run(args);

BenchmarkSwitcher.FromAssembly(typeof(FastTun.Benchmarks.BenchConfig).Assembly).Run(args, new FastTun.Benchmarks.BenchConfig());
return 0;
