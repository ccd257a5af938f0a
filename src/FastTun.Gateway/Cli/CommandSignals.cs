using System.Runtime.InteropServices;
using FastTun.Linux.Interop;

namespace FastTun.Gateway.Cli;

/// <summary>
/// The control signals of every long-running command (run, sink, gen, capture, stats --watch): SIGINT and SIGTERM call
/// the command's stop action, and SIGHUP its hangup action when it has one (run: reload), on the runtime's signal thread;
/// their default actions (termination) are cancelled. A signal inherited as ignored (nohup's SIGHUP, the SIGINT of a
/// script's <c>fasttun sink … &amp;</c>) is taken back first (<see cref="InheritedSignals"/>): a script's <c>kill -INT $!</c>
/// then stops the command and gets its report, and <c>kill -HUP</c> reloads a gateway under nohup, where either would
/// otherwise be silently ignored.
/// </summary>
internal sealed class CommandSignals : IDisposable
{
    private readonly PosixSignalRegistration _interrupt;
    private readonly PosixSignalRegistration _terminate;
    private readonly PosixSignalRegistration? _hangup;

    private CommandSignals(Action stop, Action? hangup)
    {
        Reclaimed = hangup is null
            ? InheritedSignals.Reclaim(Libc.SIGINT, Libc.SIGTERM)
            : InheritedSignals.Reclaim(Libc.SIGHUP, Libc.SIGINT, Libc.SIGTERM);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop(); });
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop(); });
        if (hangup is not null) _hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => { c.Cancel = true; hangup(); });
    }

    /// <summary>Registers <paramref name="stop"/> for SIGINT and SIGTERM, and <paramref name="hangup"/> (when given) for
    /// SIGHUP, until disposed.</summary>
    public static CommandSignals Register(Action stop, Action? hangup = null) => new(stop, hangup);

    /// <summary>The signals this process had inherited as ignored, now handled, in ascending order.</summary>
    public IReadOnlyList<int> Reclaimed { get; }

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        _hangup?.Dispose();
    }
}
