using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace FastTun.Benchmarks;

/// <summary>Adds a GB/s column (bytes per operation / mean time) to benchmarks that have a <c>Size</c>
/// parameter, so checksum throughput can be read against the 80 GB/s and 100 GB/s targets directly.</summary>
public sealed class ChecksumThroughputConfig : ManualConfig
{
    public ChecksumThroughputConfig() => AddColumn(new ChecksumThroughputColumn());
}

public sealed class ChecksumThroughputColumn : IColumn
{
    public string Id => nameof(ChecksumThroughputColumn);
    public string ColumnName => "GB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Bytes summed per nanosecond of mean time (1 GB = 10^9 bytes)";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
        GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        object? size = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Size")?.Value;
        if (report?.ResultStatistics is not { } stats || size is not int bytes || stats.Mean <= 0)
            return "-";
        return (bytes / stats.Mean).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
    }
}
