using System.Runtime.InteropServices;
using FastTun.Linux.Interop;

namespace FastTun.Gateway.Cli;

/// <summary>
/// SIGINT and SIGTERM, the stop signals of every long-running command (run, sink, gen, capture, stats --watch): both call the same action on the
/// runtime's signal thread, and the default action (termination) is cancelled. Either one inherited as ignored (a
/// script's <c>fasttun sink … &amp;</c>, nohup) is taken back first (<see cref="InheritedSignals"/>): a script's
/// <c>kill -INT $!</c> then stops the command and gets its report, where it would otherwise be silently ignored.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly PosixSignalRegistration _interrupt;
    private readonly PosixSignalRegistration _terminate;

    private StopSignals(Action stop)
    {
        Reclaimed = InheritedSignals.Reclaim(InheritedSignals.Interrupt, InheritedSignals.Terminate);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop(); });
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop(); });
    }

    /// <summary>Registers <paramref name="stop"/> for SIGINT and SIGTERM until disposed.</summary>
    public static StopSignals Register(Action stop) => new(stop);

    /// <summary>The stop signals this process had inherited as ignored, now handled.</summary>
    public IReadOnlyList<int> Reclaimed { get; }

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
    }
}
